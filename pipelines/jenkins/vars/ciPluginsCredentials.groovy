// Binds the credentials named by ID in cfg around body, only those of the kinds a step needs
// (least privilege; for the other vars/ steps):
//   envRepoCredentialsId    username/password (token)  -> CI_PLUGINS_GIT_USERNAME / CI_PLUGINS_GIT_TOKEN
//   forgeCredentialsId      secret text (API token)    -> CI_PLUGINS_GITLAB_TOKEN and CI_PLUGINS_GITHUB_TOKEN
//   kubeconfigCredentialsId secret file                -> KUBECONFIG
//   registryCredentialsId   username/password          -> CI_PLUGINS_REGISTRY_USERNAME / _PASSWORD
def call(Map cfg, List<String> kinds, Closure body) {
    List bindings = []
    if (cfg.envRepoCredentialsId && 'envRepo' in kinds) {
        bindings << usernamePassword(credentialsId: cfg.envRepoCredentialsId,
            usernameVariable: 'CI_PLUGINS_GIT_USERNAME', passwordVariable: 'CI_PLUGINS_GIT_TOKEN')
    }
    if (cfg.forgeCredentialsId && 'forge' in kinds) {
        bindings << string(credentialsId: cfg.forgeCredentialsId, variable: 'CI_PLUGINS_GITLAB_TOKEN')
        bindings << string(credentialsId: cfg.forgeCredentialsId, variable: 'CI_PLUGINS_GITHUB_TOKEN')
    }
    if (cfg.kubeconfigCredentialsId && 'kubeconfig' in kinds) {
        bindings << file(credentialsId: cfg.kubeconfigCredentialsId, variable: 'KUBECONFIG')
    }
    if (cfg.registryCredentialsId && 'registry' in kinds) {
        bindings << usernamePassword(credentialsId: cfg.registryCredentialsId,
            usernameVariable: 'CI_PLUGINS_REGISTRY_USERNAME', passwordVariable: 'CI_PLUGINS_REGISTRY_PASSWORD')
    }
    if (bindings) {
        return withCredentials(bindings, body)
    }
    return body()
}
