// ciPluginsGate(projectDir: '.', metrics: 'train-output/metrics.json', reportDir: 'gate-report')
// Gates the model on its metrics; writes gate-report/ (Markdown, JUnit, JSON, metrics.txt).
Map call(Map cfg = [:]) {
    return ciPluginsRun('gate', [
        METRICS: cfg.metrics ?: "${cfg.outputDir ?: 'train-output'}/metrics.json",
        POLICY: cfg.policy,
        BASELINE: cfg.baseline,
        REPORT_DIR: cfg.reportDir ?: 'gate-report',
        ADVISORY: cfg.advisory ?: false,
    ], cfg)
}
