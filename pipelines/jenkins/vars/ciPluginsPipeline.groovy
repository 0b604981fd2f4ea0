// The complete pipeline (scripted), built from the other ciPlugins* steps:
//   every build:    Train (GPU agent) -> Gate (JUnit, reports archived)
//   default branch: Deploy <first env> (render, promote, verify) under lock('env-<name>'),
//                   then for each next environment: input (outside any executor) where asked,
//                   milestone, lock, promote from the previous environment, verify.
// ciPluginsPipeline(
//     projectDir: 'examples/digits', environments: ['dev', 'staging', 'prod'],
//     gpuLabel: 'gpu', agentLabel: 'linux', approvers: [prod: 'ml-leads'],
//     envRepoCredentialsId: 'env-repo-token', kubeconfigCredentialsIds: [dev: 'kube-dev'])
def call(Map cfg = [:]) {
    List<String> environments = cfg.environments ?: ['dev', 'staging', 'prod']
    Map approvers = cfg.approvers == null ? [(environments.last()): 'admin'] : cfg.approvers
    String projectDir = cfg.projectDir ?: '.'
    boolean deploy = cfg.deploy == null ? env.BRANCH_NAME == (cfg.defaultBranch ?: 'main') : cfg.deploy
    int ordinal = 0

    timeout(time: cfg.timeoutMinutes ?: 240, unit: 'MINUTES') {
        stage('Train') {
            node(cfg.gpuLabel ?: 'gpu') {
                checkout scm
                try {
                    ciPluginsTrain(cfg)
                    stash(name: 'train-output', includes: "${projectDir}/train-output/**")
                } finally {
                    archiveArtifacts(artifacts: "${projectDir}/train-output/*.json", allowEmptyArchive: true, fingerprint: true)
                }
            }
        }
        stage('Gate') {
            node(cfg.agentLabel ?: '') {
                checkout scm
                unstash 'train-output'
                try {
                    ciPluginsGate(cfg)
                } finally {
                    junit(testResults: "${projectDir}/gate-report/*.xml", allowEmptyResults: true)
                    archiveArtifacts(artifacts: "${projectDir}/gate-report/**", allowEmptyArchive: true, fingerprint: true)
                }
            }
        }
        if (!deploy) {
            return
        }
        environments.eachWithIndex { String target, int index ->
            String source = index == 0 ? null : environments[index - 1]
            Map envCfg = cfg + [env: target, kubeconfigCredentialsId: (cfg.kubeconfigCredentialsIds ?: [:])[target]]
            if (approvers[target]) {
                stage("Approve ${target}") {
                    input(message: "Promote ${source ?: 'this build'} to ${target}?", ok: 'Promote',
                        submitter: approvers[target])
                }
            }
            stage(source ? "Promote ${source} to ${target}" : "Deploy ${target}") {
                milestone(++ordinal)
                lock(resource: "env-${target}") {
                    node(cfg.agentLabel ?: '') {
                        checkout scm
                        try {
                            Map promoted
                            if (source) {
                                promoted = ciPluginsPromote(envCfg + [fromEnv: source, toEnv: target])
                            } else {
                                unstash 'train-output'
                                ciPluginsRender(envCfg)
                                promoted = ciPluginsPromote(envCfg)
                            }
                            if (promoted.CI_PLUGINS_COMMIT) {
                                ciPluginsVerify(envCfg)
                            } else {
                                echo "ci-plugins: no new commit for ${target} (unchanged, or a merge request awaits approval); verify runs after the merge"
                            }
                        } finally {
                            junit(testResults: "${projectDir}/verify-report/*.xml", allowEmptyResults: true)
                            archiveArtifacts(artifacts: "${projectDir}/ci-plugins-*.properties", allowEmptyArchive: true)
                        }
                    }
                }
            }
        }
    }
}
