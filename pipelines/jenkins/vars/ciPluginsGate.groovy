// ciPluginsGate(projectDir: '.', metrics: 'train-output/metrics.json', baselineEnv: 'dev')
// Gates the model on its metrics and against the release recorded in baselineEnv (read with
// envRepoCredentialsId); writes gate-report/ (Markdown, JUnit, JSON, metrics.txt).
Map call(Map cfg = [:]) {
    return ciPluginsCredentials(cfg, ['envRepo']) {
        ciPluginsRun('gate', [
            METRICS: cfg.metrics ?: "${cfg.outputDir ?: 'train-output'}/metrics.json",
            POLICY: cfg.policy,
            BASELINE: cfg.baseline,
            ENV: cfg.baseline ? null : cfg.baselineEnv,
            ENV_REPO: cfg.envRepo,
            REPORT_DIR: cfg.reportDir ?: 'gate-report',
            ADVISORY: cfg.advisory ?: false,
        ], cfg)
    }
}
