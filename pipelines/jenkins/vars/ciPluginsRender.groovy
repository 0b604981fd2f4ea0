// ciPluginsRender(env: 'dev', projectDir: '.', manifest: 'train-output/model-manifest.json')
// Renders the chart for one environment into rendered/<env> (plain, deterministic YAML).
// preview: true renders an unpackaged model for review (change requests; promote refuses it);
// diffAgainstEnv: true writes rendered/<env>/render-diff.md against the environment repo.
Map call(Map cfg = [:]) {
    return ciPluginsCredentials(cfg, ['envRepo']) {
        ciPluginsRun('render', [
            ENV: cfg.env,
            MANIFEST: cfg.manifest ?: "${cfg.outputDir ?: 'train-output'}/model-manifest.json",
            OUTPUT_DIR: cfg.renderedDir ?: "rendered/${cfg.env}",
            PREVIEW: cfg.preview ?: false,
            DIFF_AGAINST_ENV: cfg.diffAgainstEnv ?: false,
            ENV_REPO: cfg.envRepo,
        ], cfg)
    }
}
