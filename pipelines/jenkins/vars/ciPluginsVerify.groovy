// ciPluginsVerify(env: 'dev', kubeconfigCredentialsId: 'kubeconfig-dev', timeout: 600)
// Waits until the cluster runs the committed release and it is healthy; rolls back on failure
// unless rollbackOnFailure: false. Writes verify-report/.
Map call(Map cfg = [:]) {
    return ciPluginsCredentials(cfg, ['envRepo', 'kubeconfig']) {
        ciPluginsRun('verify', [
            ENV: cfg.env,
            ENV_REPO: cfg.envRepo,
            APP: cfg.app,
            TIMEOUT: cfg.timeout,
            REPORT_DIR: cfg.verifyReportDir ?: 'verify-report',
            ROLLBACK_ON_FAILURE: cfg.rollbackOnFailure == null ? true : cfg.rollbackOnFailure,
        ], cfg)
    }
}
