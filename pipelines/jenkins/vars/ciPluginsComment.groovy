// ciPluginsComment(projectDir: '.', bodyFiles: ['gate-report/gate-report.md'], forgeCredentialsId: 'forge-token')
// Posts the reports as one note on the merge/pull request this multibranch build is for
// (CHANGE_ID and CHANGE_URL, set by the GitLab/GitHub branch source), edited in place on every
// build of it. The token comes from forgeCredentialsId (secret text). Returns the outputs.
Map call(Map cfg = [:]) {
    List bodyFiles = cfg.bodyFiles ?: ['gate-report/gate-report.md']
    return ciPluginsCredentials(cfg, ['forge']) {
        ciPluginsRun('comment', [
            BODY_FILE: bodyFiles.join(','),
            MARKER: cfg.marker,
            CHANGE_REQUEST: cfg.changeRequest,
        ], cfg + [extras: '[forge]'])
    }
}
