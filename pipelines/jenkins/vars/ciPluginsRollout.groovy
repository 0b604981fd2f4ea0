// ciPluginsRollout(env: 'prod', kubeconfigCredentialsId: 'kubeconfig-prod', ifCanary: true)
// Drives env's canary through its steps (each a commit in the environment repo): exit 0
// promoted or nothing to do (verdict none), 1 aborted or inconclusive (run again to continue
// at the recorded step). ifCanary: true makes an environment whose rollout.strategy is not
// canary verdict none instead of bad input. Writes rollout-report/.
Map call(Map cfg = [:]) {
    return ciPluginsCredentials(cfg, ['envRepo', 'kubeconfig']) {
        ciPluginsRun('rollout', [
            ENV: cfg.env,
            ENV_REPO: cfg.envRepo,
            PROMETHEUS: cfg.prometheus,
            TIMEOUT: cfg.stepTimeout,
            IF_CANARY: cfg.ifCanary,
            REPORT_DIR: cfg.rolloutReportDir ?: 'rollout-report',
        ], cfg)
    }
}
