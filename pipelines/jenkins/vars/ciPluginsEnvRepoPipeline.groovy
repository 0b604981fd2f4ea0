// The environment repo's own pipeline (scripted):
//   change requests (promotions): Validate (JUnit published)
//   default branch (after a merge): Verify each environment under lock('env-<name>') on an
//   executor, rolling back an unhealthy release; then, when this repository holds the config
//   (ci-plugins.yaml with the environments' rollout: and analysis:), rollout there
//   (verdict none unless rollout.strategy is canary).
// ciPluginsEnvRepoPipeline(environments: ['dev', 'staging'], envRepo: 'https://git/env.git',
//     envRepoCredentialsId: 'env-repo-token', kubeconfigCredentialsIds: [dev: 'kube-dev'])
def call(Map cfg = [:]) {
    List<String> environments = cfg.environments ?: ['dev', 'staging', 'prod']
    timeout(time: cfg.timeoutMinutes ?: 60, unit: 'MINUTES') {
        if (env.CHANGE_ID) {
            stage('Validate') {
                node(cfg.agentLabel ?: '') {
                    checkout scm
                    try {
                        ciPluginsValidate(cfg + [base: "origin/${env.CHANGE_TARGET}"])
                    } finally {
                        junit(testResults: 'validate-report/*.xml', allowEmptyResults: true)
                    }
                }
            }
            return
        }
        if (env.BRANCH_NAME != (cfg.defaultBranch ?: 'main')) {
            return
        }
        for (int index = 0; index < environments.size(); index++) {
            String target = environments[index]
            Map kubeconfigs = cfg.kubeconfigCredentialsIds ?: [:]
            stage("Verify ${target}") {
                lock(resource: "env-${target}") {
                    node(cfg.agentLabel ?: '') {
                        verifyOne(cfg + [env: target, kubeconfigCredentialsId: kubeconfigs[target]])
                    }
                }
            }
        }
    }
}

// One environment, on an executor and under its lock.
void verifyOne(Map cfg) {
    checkout scm
    try {
        ciPluginsVerify(cfg)
        if (fileExists(cfg.config ?: 'ci-plugins.yaml')) {
            ciPluginsRollout(cfg + [ifCanary: true])
        }
    } finally {
        junit(testResults: 'verify-report/*.xml,rollout-report/*.xml', allowEmptyResults: true)
        archiveArtifacts(artifacts: 'rollout-report/**', allowEmptyArchive: true)
    }
}
