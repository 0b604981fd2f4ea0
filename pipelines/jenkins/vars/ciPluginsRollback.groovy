// ciPluginsRollback(env: 'prod', envRepoCredentialsId: 'env-repo')
// Restores the environment's last healthy release with a new commit (never a force-push).
Map call(Map cfg = [:]) {
    return ciPluginsCredentials(cfg, ['envRepo']) {
        ciPluginsRun('rollback', [ENV: cfg.env, ENV_REPO: cfg.envRepo], cfg)
    }
}
