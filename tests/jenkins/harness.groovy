// Runs Jenkins shared-library steps (pipelines/jenkins/vars/*.groovy) and a Jenkinsfile under
// plain Groovy, with the Jenkins pipeline steps bound to recording stand-ins.
//   groovy harness.groovy SETTINGS.json
// SETTINGS: {"vars": DIR, "script": FILE, "record": OUT.json, "workspace": DIR,
//            "execute": false,            // true: sh really runs (bash -c) in the workspace
//            "env": {...},                // the build's env (BRANCH_NAME, ...)
//            "credentials": {"id": {"username"?, "password"?, "secret"?, "file"?}},
//            "sh": [{"match": "ci-plugins gate", "status": [3, 0]}],  // scripted exit codes
//            "input": "proceed" | "abort"}
// Writes every recorded call, with the context it ran in (stage, node, locks, dir), to OUT.
import groovy.json.JsonOutput
import groovy.json.JsonSlurper

class AbortException extends RuntimeException {
    AbortException(String message) { super(message) }
}

class Recorder {
    Map settings
    List calls = []
    List<String> stages = []
    List<String> nodes = []
    List<String> locks = []
    List<String> dirs = []
    List<String> envStack = []
    Map<String, String> secrets = [:]
    Map<String, Integer> shCounts = [:]

    Map context() {
        [stage: stages ? stages.last() : null, node: nodes ? nodes.last() : null,
         locks: new ArrayList(locks), dir: dirs.join('/') ?: '.', env: new ArrayList(envStack),
         secrets: new ArrayList(secrets.keySet())]
    }

    void record(String step, Object args) {
        calls << [step: step, args: args, context: context()]
    }

    File cwd() {
        File base = new File(settings.workspace as String)
        dirs.each { base = new File(base, it) }
        return base
    }

    Map<String, String> processEnv() {
        Map<String, String> result = new HashMap(System.getenv())
        result.putAll((settings.env ?: [:]) as Map<String, String>)
        envStack.each { String entry ->
            int eq = entry.indexOf('=')
            result[entry.substring(0, eq)] = entry.substring(eq + 1)
        }
        result.putAll(secrets)
        return result
    }

    int scriptedStatus(String script) {
        for (Map rule in (settings.sh ?: [])) {
            if (script.contains(rule.match as String)) {
                int n = shCounts.get(rule.match as String, 0)
                shCounts[rule.match as String] = n + 1
                List statuses = rule.status as List
                return statuses[Math.min(n, statuses.size() - 1)] as int
            }
        }
        return 0
    }

    Object sh(Map args) {
        record('sh', args)
        String script = args.script as String
        int status
        String stdout = ''
        if (settings.execute) {
            ProcessBuilder builder = new ProcessBuilder('bash', '-c', script).directory(cwd())
            builder.environment().clear()
            builder.environment().putAll(processEnv())
            builder.redirectErrorStream(true)
            Process process = builder.start()
            stdout = process.inputStream.text
            status = process.waitFor()
            System.err.print(stdout)
        } else {
            status = scriptedStatus(script)
        }
        calls.last().status = status
        if (args.returnStatus) {
            return status
        }
        if (status != 0) {
            throw new AbortException("script returned exit code ${status}")
        }
        return args.returnStdout ? stdout : null
    }
}

Map settings = new JsonSlurper().parse(new File(args[0])) as Map
Recorder rec = new Recorder(settings: settings)
Binding binding = new Binding()
GroovyShell shell = new GroovyShell(binding)

def wrap = { String name, Closure around ->
    binding.setVariable(name, around)
}
// Block steps: record, then run the body inside the context they set up.
wrap('stage') { String name, Closure body ->
    rec.record('stage', [name: name]); rec.stages << name
    try { body() } finally { rec.stages.remove(rec.stages.size() - 1) }
}
wrap('node') { Object... a ->
    String label = a.length > 1 ? a[0] as String : ''
    rec.record('node', [label: label]); rec.nodes << label
    try { (a.last() as Closure)() } finally { rec.nodes.remove(rec.nodes.size() - 1) }
}
wrap('lock') { Object resource, Closure body ->
    String name = resource instanceof Map ? resource.resource : resource
    rec.record('lock', [resource: name]); rec.locks << name
    try { body() } finally { rec.locks.remove(rec.locks.size() - 1) }
}
wrap('timeout') { Map a, Closure body -> rec.record('timeout', a); body() }
// catchError: a failure inside is recorded and swallowed (the stage result becomes a.stageResult).
wrap('catchError') { Map a, Closure body ->
    rec.record('catchError', a)
    try { body() } catch (AbortException e) { rec.record('caught', a + [message: e.message]) }
}
wrap('dir') { String path, Closure body ->
    rec.record('dir', [path: path]); rec.dirs << path
    try { body() } finally { rec.dirs.remove(rec.dirs.size() - 1) }
}
wrap('withEnv') { List entries, Closure body ->
    rec.record('withEnv', entries.collect { it.toString() })
    int before = rec.envStack.size()
    entries.each { rec.envStack << it.toString() }
    try { body() } finally { while (rec.envStack.size() > before) { rec.envStack.remove(rec.envStack.size() - 1) } }
}
wrap('withCredentials') { List bindings, Closure body ->
    rec.record('withCredentials', bindings)
    Map creds = (settings.credentials ?: [:]) as Map
    Map<String, String> added = [:]
    bindings.each { Map b ->
        Map c = creds[b.credentialsId] as Map
        if (c == null) {
            throw new AbortException("Could not find credentials entry with ID '${b.credentialsId}'")
        }
        if (b.type == 'usernamePassword') {
            added[b.usernameVariable] = c.username; added[b.passwordVariable] = c.password
        } else if (b.type == 'file') {
            File f = File.createTempFile('secret', '.file'); f.deleteOnExit(); f.text = c.file
            added[b.variable] = f.path
        } else {
            added[b.variable] = c.secret
        }
    }
    rec.secrets.putAll(added)
    try { body() } finally { added.keySet().each { rec.secrets.remove(it) } }
}
// Credential binding constructors.
wrap('usernamePassword') { Map a -> a + [type: 'usernamePassword'] }
wrap('string') { Map a -> a + [type: 'string'] }
wrap('file') { Map a -> a + [type: 'file'] }
// Plain steps.
wrap('sh') { Object a -> rec.sh(a instanceof Map ? a as Map : [script: a.toString()]) }
wrap('echo') { Object m -> rec.record('echo', [message: m.toString()]); System.err.println(m) }
wrap('error') { Object m -> rec.record('error', [message: m.toString()]); throw new AbortException(m.toString()) }
wrap('input') { Map a ->
    rec.record('input', a)
    if (settings.input == 'abort') { throw new AbortException('Aborted by ' + (a.submitter ?: 'someone')) }
    return null
}
['milestone', 'junit', 'archiveArtifacts', 'stash', 'unstash', 'checkout', 'library', 'modernSCM',
 'properties', 'buildDiscarder', 'logRotator', 'disableConcurrentBuilds'].each { String name ->
    wrap(name) { Object... a -> rec.record(name, a.length == 1 ? a[0] : a.toList()); return [:] }
}
wrap('fileExists') { String path -> new File(rec.cwd(), path).exists() }
wrap('readProperties') { Map a ->
    Properties p = new Properties()
    new File(rec.cwd(), a.file as String).withInputStream { p.load(it) }
    rec.record('readProperties', a + [values: new HashMap(p)])
    return new HashMap(p)
}
binding.setVariable('env', [JENKINS_URL: 'http://jenkins.invalid/', WORKSPACE: settings.workspace] +
    ((settings.env ?: [:]) as Map))
binding.setVariable('scm', [userRemoteConfigs: [[url: 'https://git.example.com/ml/ci-plugins.git']]])

// Global variables from vars/: calling `ciPluginsGate(cfg)` runs that script's call(cfg).
new File(settings.vars as String).eachFileMatch(~/.*\.groovy/) { File f ->
    Script step = shell.parse(f)
    step.binding = binding
    binding.setVariable(f.name - '.groovy', { Object... a -> step.invokeMethod('call', a) })
}

String outcome = 'SUCCESS'
String failure = null
try {
    Script main = shell.parse(new File(settings.script as String))
    main.binding = binding
    main.run()
} catch (AbortException e) {
    outcome = 'FAILURE'
    failure = e.message
}
new File(settings.record as String).text = JsonOutput.prettyPrint(JsonOutput.toJson(
    [result: outcome, error: failure, calls: rec.calls]))
