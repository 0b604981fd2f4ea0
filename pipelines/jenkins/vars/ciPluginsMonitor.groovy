// ciPluginsMonitor(env: 'prod', envRepoCredentialsId: 'env-repo', jenkinsCredentialsId: 'monitor-bot')
// Judges the live model in env; when it degraded in m of the last n windows and no retraining
// started within the cooldown, starts the training pipeline once (monitor.trigger in
// ci-plugins.yaml). Run it from a job with a cron trigger (docs/monitor.md). The trigger's
// credential, bound only for this step:
//   gitlabTriggerCredentialsId  secret text (pipeline trigger token) -> CI_PLUGINS_GITLAB_TRIGGER_TOKEN
//   githubTokenCredentialsId    secret text ("Actions: write")       -> CI_PLUGINS_GITHUB_TOKEN
//   jenkinsCredentialsId        username/password (API token)        -> CI_PLUGINS_JENKINS_USER / _TOKEN
Map call(Map cfg = [:]) {
    List bindings = []
    if (cfg.gitlabTriggerCredentialsId) {
        bindings << string(credentialsId: cfg.gitlabTriggerCredentialsId,
            variable: 'CI_PLUGINS_GITLAB_TRIGGER_TOKEN')
    }
    if (cfg.githubTokenCredentialsId) {
        bindings << string(credentialsId: cfg.githubTokenCredentialsId, variable: 'CI_PLUGINS_GITHUB_TOKEN')
    }
    if (cfg.jenkinsCredentialsId) {
        bindings << usernamePassword(credentialsId: cfg.jenkinsCredentialsId,
            usernameVariable: 'CI_PLUGINS_JENKINS_USER', passwordVariable: 'CI_PLUGINS_JENKINS_TOKEN')
    }
    Closure monitor = {
        ciPluginsCredentials(cfg, ['envRepo']) {
            ciPluginsRun('monitor', [
                ENV: cfg.env,
                ENV_REPO: cfg.envRepo,
                APP: cfg.app,
                PROMETHEUS: cfg.prometheus,
                REPORT_DIR: cfg.reportDir ?: 'monitor-report',
            ], cfg)
        }
    }
    return bindings ? withCredentials(bindings, monitor) : monitor()
}
