// ciPluginsTrain(projectDir: '.', config: 'ci-plugins.yaml', outputDir: 'train-output', requireGpu: true)
// Trains the model; run it on a GPU agent (node('gpu') { ... }). Returns the step outputs.
// The default install on a GPU agent is ci-plugins[gpu]: tensorflow[and-cuda] brings CUDA.
// train.tune keeps its search state in tuneDir, by default beside the workspace (like Jenkins'
// own <workspace>@tmp), so a rebuild of the branch on that agent continues the search even
// after the workspace is cleaned.
Map call(Map cfg = [:]) {
    boolean gpu = cfg.requireGpu == null ? true : cfg.requireGpu
    String projectDir = cfg.projectDir ?: '.'
    return ciPluginsRun('train', [
        OUTPUT_DIR: cfg.outputDir ?: 'train-output',
        REQUIRE_GPU: gpu,
        TUNE_DIR: cfg.tuneDir ?: (env.WORKSPACE ? "${env.WORKSPACE}@ci-plugins-tune/${projectDir}" : null),
        TUNE_LOCK: cfg.tuneLock,
    ], cfg + [extras: gpu ? '[gpu]' : '[train]'])
}
