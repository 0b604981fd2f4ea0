// ciPluginsPackage(projectDir: '.', registry: 'registry.example.com/ml/models', registryCredentialsId: 'registry')
// Pushes the gated model as an OCI artifact pinned by digest and writes "artifact" into
// train-output/model-manifest.json. Run it after the gate, on the default branch only.
Map call(Map cfg = [:]) {
    String output = cfg.outputDir ?: 'train-output'
    return ciPluginsCredentials(cfg, ['registry']) {
        ciPluginsRun('package', [
            MODEL_DIR: cfg.modelDir ?: "${output}/model",
            MANIFEST: cfg.manifest ?: "${output}/model-manifest.json",
            REGISTRY: cfg.registry,
        ], cfg + [extras: '[package]'])
    }
}
