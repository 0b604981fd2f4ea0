// ciPluginsAnalyze(env: 'staging', kubeconfigCredentialsId: 'kubeconfig-staging', duration: 60)
// Measures the model running in env under generated load against the analysis: bounds
// (exit 1 when failed or inconclusive). ifConfigured: true makes a config without analysis:
// verdict none instead of bad input. Writes analysis-report/.
Map call(Map cfg = [:]) {
    return ciPluginsCredentials(cfg, ['envRepo', 'kubeconfig']) {
        ciPluginsRun('analyze', [
            ENV: cfg.env,
            ENV_REPO: cfg.envRepo,
            APP: cfg.app,
            DURATION: cfg.duration,
            IF_CONFIGURED: cfg.ifConfigured,
            REPORT_DIR: cfg.analysisReportDir ?: 'analysis-report',
        ], cfg)
    }
}
