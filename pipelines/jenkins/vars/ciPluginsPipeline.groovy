// The complete pipeline (scripted), built from the other ciPlugins* steps:
//   every build:    Train (GPU agent) -> Gate vs the release recorded in baselineEnv (default:
//                   the first environment; JUnit, reports archived)
//   other builds:   Render <first env> (--preview of the unpackaged model, with the diff against
//                   the environment repo archived next to the gate report); on a change request
//                   (CHANGE_ID) with forgeCredentialsId: gate table + train report (trial table)
//                   + render diff as one merge/pull request note, updated in place
//   default branch: Package (OCI artifact @sha256) -> Deploy <first env> (render, promote, verify)
//                   under lock('env-<name>'),
//                   then for each next environment: input (outside any executor) where asked,
//                   milestone, lock, promote from the previous environment, verify; after each
//                   promote commit, rollout (verdict none unless rollout.strategy is canary).
//                   Before the last environment: Analyze the one before it under its lock
//                   (verdict none without analysis:; a failed or inconclusive one stops there).
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
    String trainReport = "${cfg.outputDir ?: 'train-output'}/train-report.md"

    timeout(time: cfg.timeoutMinutes ?: 240, unit: 'MINUTES') {
        stage('Train') {
            node(cfg.gpuLabel ?: 'gpu') {
                checkout scm
                try {
                    ciPluginsTrain(cfg)
                    stash(name: 'train-output', includes: "${projectDir}/train-output/**")
                } finally {
                    archiveArtifacts(artifacts: "${projectDir}/train-output/*.json,${projectDir}/train-output/*.md",
                        allowEmptyArchive: true, fingerprint: true)
                }
            }
        }
        stage('Gate') {
            node(cfg.agentLabel ?: '') {
                checkout scm
                unstash 'train-output'
                try {
                    ciPluginsGate(cfg + [baselineEnv: cfg.baselineEnv == null ? environments[0] : cfg.baselineEnv])
                } finally {
                    junit(testResults: "${projectDir}/gate-report/*.xml", allowEmptyResults: true)
                    archiveArtifacts(artifacts: "${projectDir}/gate-report/**",
                        allowEmptyArchive: true, fingerprint: true)
                    stash(name: 'gate-report', includes: "${projectDir}/gate-report/**", allowEmpty: true)
                    // Passed or not, the change request sees the gate table and the trial table.
                    commentOnChange(cfg, ['gate-report/gate-report.md', trainReport])
                }
            }
        }
        if (!deploy) {
            // A change request's model is not gated yet: rendered for review, never packaged.
            stage("Render ${environments[0]}") {
                node(cfg.agentLabel ?: '') {
                    checkout scm
                    unstash 'train-output'
                    try {
                        ciPluginsRender(cfg + [env: environments[0], preview: true, diffAgainstEnv: true])
                    } finally {
                        archiveArtifacts(artifacts: "${projectDir}/rendered/${environments[0]}/render-diff.md",
                            allowEmptyArchive: true)
                    }
                    unstash 'gate-report'
                    commentOnChange(cfg, ['gate-report/gate-report.md', trainReport,
                        "rendered/${environments[0]}/render-diff.md"])
                }
            }
            return
        }
        stage('Package') {
            node(cfg.agentLabel ?: '') {
                checkout scm
                unstash 'train-output'
                ciPluginsPackage(cfg)
                stash(name: 'packaged', includes: "${projectDir}/train-output/model-manifest.json")
            }
        }
        // A classic loop: closures passed to collection methods are not CPS-safe everywhere.
        for (int index = 0; index < environments.size(); index++) {
            String target = environments[index]
            String source = index == 0 ? null : environments[index - 1]
            Map kubeconfigs = cfg.kubeconfigCredentialsIds ?: [:]
            Map envCfg = cfg + [env: target, kubeconfigCredentialsId: kubeconfigs[target]]
            if (source && index == environments.size() - 1 && cfg.analyzeBeforeLast != false) {
                analyzeStage(cfg + [env: source, kubeconfigCredentialsId: kubeconfigs[source]], projectDir)
            }
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
                        deployTo(envCfg, source, projectDir)
                    }
                }
            }
        }
    }
}

// The reports as one note on the change request of this build (CHANGE_ID), updated in place;
// a failing comment (forge down, token refused) marks the stage unstable, never the build.
void commentOnChange(Map cfg, List<String> bodyFiles) {
    if (!env.CHANGE_ID) {
        return
    }
    if (!cfg.forgeCredentialsId) {
        echo 'ci-plugins: no forgeCredentialsId, so no merge/pull request note'
        return
    }
    catchError(buildResult: 'SUCCESS', stageResult: 'UNSTABLE') {
        ciPluginsComment(cfg + [bodyFiles: bodyFiles])
    }
}

// One environment, on an executor and under its lock: promote (render first when there is no
// source environment), then verify when promote pushed a commit.
void deployTo(Map cfg, String source, String projectDir) {
    checkout scm
    try {
        Map promoted
        if (source) {
            promoted = ciPluginsPromote(cfg + [fromEnv: source, toEnv: cfg.env])
        } else {
            unstash 'train-output'
            unstash 'packaged' // the manifest with the artifact, over train's copy
            ciPluginsRender(cfg)
            promoted = ciPluginsPromote(cfg)
        }
        if (promoted.CI_PLUGINS_COMMIT) {
            ciPluginsVerify(cfg)
            ciPluginsRollout(cfg + [ifCanary: true])
        } else {
            echo "ci-plugins: no new commit for ${cfg.env} (unchanged, or a merge request awaits approval)"
        }
    } finally {
        junit(testResults: "${projectDir}/verify-report/*.xml,${projectDir}/rollout-report/*.xml",
            allowEmptyResults: true)
        archiveArtifacts(artifacts: "${projectDir}/ci-plugins-*.properties,${projectDir}/rollout-report/**",
            allowEmptyArchive: true)
    }
}

// The performance test of one environment before the next promotion, under its lock:
// ci-plugins analyze, verdict none when the config has no analysis: section.
void analyzeStage(Map cfg, String projectDir) {
    stage("Analyze ${cfg.env}") {
        lock(resource: "env-${cfg.env}") {
            node(cfg.agentLabel ?: '') {
                analyzeOne(cfg, projectDir)
            }
        }
    }
}

void analyzeOne(Map cfg, String projectDir) {
    checkout scm
    try {
        ciPluginsAnalyze(cfg + [ifConfigured: true])
    } finally {
        junit(testResults: "${projectDir}/analysis-report/*.xml", allowEmptyResults: true)
        archiveArtifacts(artifacts: "${projectDir}/analysis-report/**", allowEmptyArchive: true)
    }
}
