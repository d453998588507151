package dev.tether.conformance.wamp.interop

import java.io.File
import java.util.concurrent.TimeUnit

/**
 * Where the real WAMP peers of the interop tests live and whether they are installed. `.ci/run` installs them:
 * `npm ci --ignore-scripts` in `conformance-tests/interop` (fox-wamp, autobahn-js) and Debian's
 * `python3-autobahn` (with `python3-cbor2` for its CBOR serializer). Nothing of theirs is vendored.
 *
 * A test whose peer is missing is skipped with the reason, except where `.ci/run` can install it (CI=true, root,
 * apt-get present): there a missing peer is a failed install, so the test runs and fails saying what is missing.
 */
object InteropPeers {
    /** `conformance-tests/interop`: the package.json, its lock and the peer scripts. */
    val dir: File by lazy {
        val here = File(System.getProperty("user.dir")).absoluteFile
        listOf(File(here, "interop"), File(here, "conformance-tests/interop")).firstOrNull {
            File(it, "package.json").isFile
        }
            ?: File(here, "interop")
    }

    /** The Python that has Debian's python3-autobahn (not a pyenv one); `-Dtether.interop.python` overrides. */
    val python: String = System.getProperty("tether.interop.python") ?: "/usr/bin/python3"

    val node: String? by lazy { onPath("node") }

    private val installable: Boolean by lazy {
        System.getenv("CI") == "true" && onPath("apt-get") != null && run("id", "-u")?.trim() == "0"
    }

    private val npmMissing: String? by lazy {
        when {
            node == null -> "node is not installed (the interop tests run fox-wamp and autobahn-js on Node.js 20)"

            !File(
                dir,
                "node_modules/fox-wamp/package.json",
            ).isFile || !File(dir, "node_modules/autobahn/package.json").isFile ->
                "the npm peers are not installed: run `npm ci --ignore-scripts` in ${dir.path} (.ci/run does)"

            else -> null
        }
    }

    private val pythonProbe: Map<String, String> by lazy {
        // One interpreter start tells the autobahn version and which optional serializers import.
        val out = run(
            python,
            "-c",
            "import autobahn, importlib.util as u; print('autobahn=' + autobahn.__version__); print('cbor2=' + " +
                "str(u.find_spec('cbor2') is not None)); print('msgpack=' + str(u.find_spec('msgpack') is not None))",
        ) ?: return@lazy emptyMap()
        out.lines().mapNotNull { line ->
            line.split("=", limit = 2).takeIf { it.size == 2 }?.let { it[0] to it[1] }
        }.toMap()
    }

    /** Null when fox-wamp can run, else why not. */
    fun foxWampMissing(): String? = enforced(npmMissing)

    /** Null when autobahn-js can run, else why not. */
    fun autobahnJsMissing(): String? = enforced(npmMissing)

    /** Null when autobahn-python can run with [serializer], else why not. */
    fun autobahnPythonMissing(serializer: String = "json"): String? = enforced(
        when {
            pythonProbe["autobahn"] == null ->
                "python3-autobahn is not installed for $python (apt-get install " +
                    "python3-autobahn; .ci/run does)"

            serializer == "cbor" && pythonProbe["cbor2"] != "True" ->
                "autobahn-python's CBOR serializer needs " +
                    "python3-cbor2 (.ci/run installs it)"

            serializer == "msgpack" && pythonProbe["msgpack"] != "True" ->
                "autobahn-python's MessagePack serializer " +
                    "needs python3-msgpack"

            else -> null
        },
    )

    /** The autobahn-python version found, for messages. */
    val autobahnPythonVersion: String? get() = pythonProbe["autobahn"]

    // On a machine where .ci/run installs the peers, "missing" means the install failed: run and fail loudly.
    private fun enforced(reason: String?): String? {
        if (reason == null || installable) return null
        if (reported.add(reason)) System.err.println("WAMP interop tests skipped: $reason")
        return reason
    }

    private val reported = java.util.Collections.synchronizedSet(HashSet<String>())

    private fun onPath(name: String): String? = System.getenv("PATH").orEmpty().split(File.pathSeparator).map {
        File(it, name)
    }.firstOrNull { it.canExecute() }?.path

    private fun run(vararg command: String): String? = try {
        val p = ProcessBuilder(*command).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            p.destroyForcibly()
            null
        } else if (p.exitValue() == 0) {
            out
        } else {
            null
        }
    } catch (e: java.io.IOException) {
        null
    }
}
