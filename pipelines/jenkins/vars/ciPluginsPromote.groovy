// ciPluginsPromote(env: 'dev', envRepoCredentialsId: 'env-repo')            the rendered release
// ciPluginsPromote(fromEnv: 'dev', toEnv: 'staging', envRepoCredentialsId: 'env-repo')
// Commits the release to the environment repo (or opens a merge request where the environment
// asks for approval: forgeCredentialsId). Returns outputs, e.g. CI_PLUGINS_COMMIT.
Map call(Map cfg = [:]) {
    Map inputs = cfg.fromEnv ? [FROM_ENV: cfg.fromEnv, TO_ENV: cfg.toEnv] : [
        ENV: cfg.env,
        RENDERED: cfg.renderedDir ?: "rendered/${cfg.env}",
        MANIFEST: cfg.manifest ?: "${cfg.outputDir ?: 'train-output'}/model-manifest.json",
    ]
    return ciPluginsCredentials(cfg, ['envRepo', 'forge']) {
        ciPluginsRun('promote', inputs + [ENV_REPO: cfg.envRepo], cfg + [extras: '[forge]'])
    }
}
