// ciPluginsTrain(projectDir: '.', config: 'ci-plugins.yaml', outputDir: 'train-output', requireGpu: true)
// Trains the model; run it on a GPU agent (node('gpu') { ... }). Returns the step outputs.
// The default install on a GPU agent is ci-plugins[gpu]: tensorflow[and-cuda] brings CUDA.
Map call(Map cfg = [:]) {
    boolean gpu = cfg.requireGpu == null ? true : cfg.requireGpu
    return ciPluginsRun('train', [
        OUTPUT_DIR: cfg.outputDir ?: 'train-output',
        REQUIRE_GPU: gpu,
    ], cfg + [extras: gpu ? '[gpu]' : '[train]'])
}
