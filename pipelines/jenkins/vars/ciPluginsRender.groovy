// ciPluginsRender(env: 'dev', projectDir: '.', manifest: 'train-output/model-manifest.json')
// Renders the chart for one environment into rendered/<env> (plain, deterministic YAML).
Map call(Map cfg = [:]) {
    return ciPluginsRun('render', [
        ENV: cfg.env,
        MANIFEST: cfg.manifest ?: "${cfg.outputDir ?: 'train-output'}/model-manifest.json",
        OUTPUT_DIR: cfg.renderedDir ?: "rendered/${cfg.env}",
    ], cfg)
}
