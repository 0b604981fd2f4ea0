// ciPluginsTrain(projectDir: '.', config: 'ci-plugins.yaml', outputDir: 'train-output', requireGpu: true)
// Trains the model; run it on a GPU agent (node('gpu') { ... }). Returns the step outputs.
Map call(Map cfg = [:]) {
    return ciPluginsRun('train', [
        OUTPUT_DIR: cfg.outputDir ?: 'train-output',
        REQUIRE_GPU: cfg.requireGpu == null ? true : cfg.requireGpu,
    ], cfg + [extras: '[train]'])
}
