// Runs one ci-plugins step for the other vars/ steps: inputs become CI_PLUGINS_* variables
// (never shell words), the step runs with `sh`, and only exit code 3 (an outside system
// failed) is retried. Returns the step's outputs (the properties file ci-plugins writes).
Map call(String step, Map inputs, Map cfg = [:]) {
    String outputs = "ci-plugins-${step}.properties"
    List<String> environment = [
        "CI_PLUGINS_OUTPUTS_FILE=${outputs}",
        "CI_PLUGINS_SUMMARY_FILE=ci-plugins-${step}.md",
    ]
    Map all = [CONFIG: cfg.config] + inputs
    all.each { String key, Object value ->
        if (value != null && value != '') {
            environment << "CI_PLUGINS_${key}=${value}"
        }
    }
    String install = cfg.containsKey('install') ? cfg.install :
        "python3 -m pip install --quiet 'ci-plugins${cfg.extras ?: ''}==${cfg.version ?: '0.1.0'}'"
    int attempts = (cfg.retries == null ? 2 : cfg.retries as int) + 1
    Map result = [:]
    dir(cfg.projectDir ?: '.') {
        withEnv(environment) {
            if (install) {
                sh(script: install, label: 'install ci-plugins')
            }
            int status = -1
            for (int attempt = 1; attempt <= attempts && status != 0; attempt++) {
                status = sh(script: "ci-plugins ${step}", returnStatus: true, label: "ci-plugins ${step}")
                if (status == 3 && attempt < attempts) {
                    echo("ci-plugins ${step}: an outside system failed (exit code 3); " +
                        "retry ${attempt} of ${attempts - 1}")
                } else if (status != 0) {
                    error("ci-plugins ${step} failed with exit code ${status} (see the log above)")
                }
            }
            if (fileExists(outputs)) {
                result = readProperties(file: outputs)
            }
        }
    }
    return result
}
