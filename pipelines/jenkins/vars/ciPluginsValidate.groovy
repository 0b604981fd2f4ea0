// ciPluginsValidate(base: "origin/${env.CHANGE_TARGET}")   in the environment repo's pipeline
// Checks a promotion: manifests parse, release records complete with gate evidence, no
// downgrade. Writes validate-report/ (JUnit). Returns CI_PLUGINS_ENVIRONMENTS / CI_PLUGINS_APPS.
Map call(Map cfg = [:]) {
    return ciPluginsRun('validate', [
        BASE: cfg.base,
        REPORT_DIR: cfg.reportDir ?: 'validate-report',
        ALLOW_DOWNGRADE: cfg.allowDowngrade ?: false,
    ], cfg)
}
