// Binds the credentials named by ID in cfg around body (for the other vars/ steps):
//   envRepoCredentialsId    username/password (token)  -> CI_PLUGINS_GIT_USERNAME / CI_PLUGINS_GIT_TOKEN
//   forgeCredentialsId      secret text (API token)    -> CI_PLUGINS_GITLAB_TOKEN and CI_PLUGINS_GITHUB_TOKEN
//   kubeconfigCredentialsId secret file                -> KUBECONFIG
def call(Map cfg, Closure body) {
    List bindings = []
    if (cfg.envRepoCredentialsId) {
        bindings << usernamePassword(credentialsId: cfg.envRepoCredentialsId,
            usernameVariable: 'CI_PLUGINS_GIT_USERNAME', passwordVariable: 'CI_PLUGINS_GIT_TOKEN')
    }
    if (cfg.forgeCredentialsId) {
        bindings << string(credentialsId: cfg.forgeCredentialsId, variable: 'CI_PLUGINS_GITLAB_TOKEN')
        bindings << string(credentialsId: cfg.forgeCredentialsId, variable: 'CI_PLUGINS_GITHUB_TOKEN')
    }
    if (cfg.kubeconfigCredentialsId) {
        bindings << file(credentialsId: cfg.kubeconfigCredentialsId, variable: 'KUBECONFIG')
    }
    if (bindings) {
        return withCredentials(bindings, body)
    }
    return body()
}
