using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace MemoryService.Data;

/// <summary>
/// A private PostgreSQL cluster owned by this process: initdb on first use, pg_ctl start/stop, a unix
/// socket only (no TCP port to collide on or expose). Used by the service's embedded default and by the
/// test fixture, so both run the same code.
/// </summary>
public sealed partial class EmbeddedPostgres : IDisposable
{
    private const string ServiceUser = "postgres";
    private const int Port = 5432;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _binDir;
    private readonly ILogger _logger;
    private FileStream? _ownerLock;
    private string _password = "";
    private int _stopped;

    private EmbeddedPostgres(string clusterDirectory, string socketDirectory, string binDir, ILogger logger)
    {
        ClusterDirectory = clusterDirectory;
        SocketDirectory = socketDirectory;
        _binDir = binDir;
        _logger = logger;
    }

    /// <summary>
    /// The server's password (SCRAM), next to the cluster in the data directory, mode 600 and owned by the
    /// service's user: as root the server runs as postgres and never needs to read it.
    /// </summary>
    public string SecretFile => ClusterDirectory + ".secret";

    public string ClusterDirectory { get; }
    public string SocketDirectory { get; }

    public static bool IsRoot => !OperatingSystem.IsWindows() && Environment.IsPrivilegedProcess;

    /// <summary>Connection string for a database of this cluster.</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = SocketDirectory,
        Port = Port,
        Username = ServiceUser,
        Password = _password,
        Database = database,
        MaxPoolSize = 50,
    }.ConnectionString;

    /// <summary>
    /// Starts (creating on first use) the cluster in <paramref name="clusterDirectory"/> and makes sure
    /// <paramref name="database"/> exists. Holds an exclusive lock on the folder for the process lifetime,
    /// so a second service on the same data directory fails fast instead of sharing the server.
    /// </summary>
    public static EmbeddedPostgres Start(string clusterDirectory, string? binDirectory, string database,
        TimeSpan timeout, ILogger logger)
    {
        clusterDirectory = Path.GetFullPath(clusterDirectory);
        var binDir = FindBinDirectory(binDirectory);
        var parent = Path.GetDirectoryName(clusterDirectory)!;
        Directory.CreateDirectory(parent);

        var pg = new EmbeddedPostgres(clusterDirectory, ChooseSocketDirectory(clusterDirectory), binDir, logger);
        try
        {
            pg._ownerLock = AcquireOwnerLock(Path.Combine(parent, Path.GetFileName(clusterDirectory) + ".lock"));
            pg.RequireReachableByServiceUser(parent);
            pg.PrepareSocketDirectory();
            pg._password = File.Exists(pg.SecretFile) ? pg.ReadSecret() : pg.CreateSecret();
            pg.InitIfNeeded();
            pg.RecoverFromKilledRun();
            pg.WriteServerSettings();
            pg.StartServer(timeout);
            pg.RequirePasswordAuthentication();
            pg.EnsureDatabase(database);
            return pg;
        }
        catch
        {
            pg.Dispose();
            throw;
        }
    }

    /// <summary>Creates a database in this cluster if it does not exist.</summary>
    public void EnsureDatabase(string database)
    {
        using var conn = new NpgsqlConnection(ConnectionString("postgres"));
        conn.Open();
        using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", conn);
        exists.Parameters.AddWithValue(database);
        if (exists.ExecuteScalar() is not null) return;
        // CREATE DATABASE takes no parameters; quote_ident-style quoting of a name we validate ourselves.
        if (!DatabaseName().IsMatch(database)) throw new ArgumentException($"Invalid database name '{database}'.");
        using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", conn);
        create.ExecuteNonQuery();
    }

    /// <summary>Drops a database of this cluster (tests clean up after themselves).</summary>
    public void DropDatabase(string database)
    {
        if (!DatabaseName().IsMatch(database)) throw new ArgumentException($"Invalid database name '{database}'.");
        NpgsqlConnection.ClearAllPools();
        using var conn = new NpgsqlConnection(ConnectionString("postgres"));
        conn.Open();
        using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", conn);
        drop.ExecuteNonQuery();
    }

    public void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        try
        {
            NpgsqlConnection.ClearAllPools();
            // Only the holder of the owner lock may stop the server: a second process that failed to get
            // the lock must leave the first one's server running.
            if (_ownerLock is not null && File.Exists(Path.Combine(ClusterDirectory, "postmaster.pid")))
                RunServerTool(TimeSpan.FromSeconds(60), "pg_ctl", "stop", "-D", ClusterDirectory, "-m", "fast", "-w");
            _logger.LogInformation("Embedded PostgreSQL stopped");
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Embedded PostgreSQL did not stop cleanly");
        }
        finally
        {
            _ownerLock?.Dispose();
            _ownerLock = null;
        }
    }

    public void Dispose() => Stop();

    /// <summary>
    /// Whether the postmaster is alive: its postmaster.pid names a live postgres process (a zombie left for
    /// a container's init to reap counts as dead).
    /// </summary>
    public bool IsServerRunning()
    {
        var pidFile = Path.Combine(ClusterDirectory, "postmaster.pid");
        try
        {
            if (!int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), out var pid) || !IsPostgresProcess(pid)) return false;
            return !File.ReadLines($"/proc/{pid}/status").Any(l => l.StartsWith("State:", StringComparison.Ordinal) && l.Contains("zombie", StringComparison.Ordinal));
        }
        catch (IOException) { return false; }
    }

    /// <summary>Starts the server again after its postmaster died (stale lock files are cleared first).</summary>
    public void Restart(TimeSpan timeout)
    {
        if (Volatile.Read(ref _stopped) == 1) throw new InvalidOperationException("The embedded PostgreSQL server was stopped.");
        RecoverFromKilledRun();
        PrepareSocketDirectory();
        StartServer(timeout);
    }

    private void StartServer(TimeSpan timeout) =>
        RunServerTool(timeout, "pg_ctl", "start", "-D", ClusterDirectory, "-w", "-t",
            ((int)timeout.TotalSeconds).ToString(), "-l", Path.Combine(ClusterDirectory, "server.log"));

    private string ReadSecret()
    {
        var secret = File.ReadAllText(SecretFile).Trim();
        if (secret.Length < 32 || !secret.All(char.IsAsciiHexDigitLower))
            throw new InvalidOperationException($"{SecretFile} does not hold the embedded PostgreSQL password; restore it from a backup.");
        return secret;
    }

    /// <summary>Created with mode 600 (never a wider mode, not even for a moment), written in full, then renamed.</summary>
    private string CreateSecret()
    {
        var hba = Path.Combine(ClusterDirectory, "pg_hba.conf");
        if (File.Exists(hba) && !Trusting(hba))
            throw new InvalidOperationException(
                $"The embedded PostgreSQL cluster in {ClusterDirectory} requires a password but {SecretFile} is missing; restore it from a backup.");
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var tmp = SecretFile + ".tmp";
        File.Delete(tmp);
        WriteOwnerOnly(tmp, secret + "\n");
        File.Move(tmp, SecretFile);
        return secret;
    }

    private static bool Trusting(string hba) =>
        File.ReadLines(hba).Any(l => !l.TrimStart().StartsWith('#') && l.Contains("trust", StringComparison.Ordinal));

    internal static void WriteOwnerOnly(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFile;
        using var file = new FileStream(path, options);
        file.Write(Encoding.UTF8.GetBytes(content));
        file.Flush(flushToDisk: true);
    }

    /// <summary>
    /// A cluster created before password authentication trusts its socket: while that is still so, set the
    /// password over it, switch pg_hba.conf to SCRAM and reload. A SCRAM cluster whose secret is gone is refused.
    /// </summary>
    private void RequirePasswordAuthentication()
    {
        var hba = Path.Combine(ClusterDirectory, "pg_hba.conf");
        if (!Trusting(hba)) return;
        _logger.LogWarning("Embedded PostgreSQL trusted its socket: setting a password ({SecretFile}) and requiring it", SecretFile);
        var trusted = new NpgsqlConnectionStringBuilder(ConnectionString("postgres")) { Password = null, Pooling = false };
        using (var conn = new NpgsqlConnection(trusted.ConnectionString))
        {
            conn.Open();
            // ALTER ROLE takes no parameters; the secret is hex, checked when read or made here.
            using var alter = new NpgsqlCommand($"SET password_encryption = 'scram-sha-256'; ALTER ROLE \"{ServiceUser}\" PASSWORD '{_password}'", conn);
            alter.ExecuteNonQuery();
        }
        File.WriteAllText(hba, "# Written by MemoryService: unix socket only, password (SCRAM) required.\nlocal all all scram-sha-256\n");
        RunServerTool(TimeSpan.FromSeconds(30), "pg_ctl", "reload", "-D", ClusterDirectory);
    }

    private void InitIfNeeded()
    {
        if (File.Exists(Path.Combine(ClusterDirectory, "PG_VERSION"))) return;
        // initdb into a scratch folder and rename, so a crash half-way never leaves a broken cluster behind.
        var scratch = ClusterDirectory + ".init";
        if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        Directory.CreateDirectory(scratch);
        GiveToServiceUser(scratch);
        _logger.LogInformation("Creating embedded PostgreSQL cluster in {Directory}", ClusterDirectory);
        // initdb (the server's user) reads the password from a private copy that exists only while it runs.
        var pwDir = ClusterDirectory + ".pw";
        if (Directory.Exists(pwDir)) Directory.Delete(pwDir, recursive: true);
        CreatePrivateDirectory(pwDir);
        try
        {
            var pwFile = Path.Combine(pwDir, "password");
            WriteOwnerOnly(pwFile, _password + "\n");
            GiveToServiceUser(pwDir);
            RunServerTool(TimeSpan.FromMinutes(2), "initdb", "-D", scratch, "-U", ServiceUser,
                "--auth=scram-sha-256", "--pwfile=" + pwFile, "-E", "UTF8", "--no-locale", "--no-instructions");
        }
        finally
        {
            Directory.Delete(pwDir, recursive: true);
        }
        File.AppendAllText(Path.Combine(scratch, "postgresql.conf"),
            "\n# Written by MemoryService on every start.\ninclude_if_exists = 'memoryservice.conf'\n");
        if (Directory.Exists(ClusterDirectory)) Directory.Delete(ClusterDirectory, recursive: true);
        Directory.Move(scratch, ClusterDirectory);
    }

    private void WriteServerSettings()
    {
        // A search reads one user's rows (~250 pages at 1,000 memories): served from shared buffers rather
        // than copied from the OS cache on every query. A quarter of the machine's (or container's) memory, as
        // the PostgreSQL docs suggest, between the old fixed 256 MB and 4 GB; pages are touched only when used.
        var ramMb = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024);
        var sharedBuffersMb = Math.Clamp(ramMb / 4, 256, 4096);
        var conf = Path.Combine(ClusterDirectory, "memoryservice.conf");
        File.WriteAllText(conf, $"""
            listen_addresses = ''
            port = {Port}
            unix_socket_directories = '{SocketDirectory.Replace("'", "''")}'
            max_connections = 200
            shared_buffers = {sharedBuffersMb}MB
            effective_cache_size = {Math.Max(ramMb / 2, sharedBuffersMb)}MB
            work_mem = 16MB
            maintenance_work_mem = 256MB
            max_wal_size = 4GB
            """);
        GiveToServiceUser(conf);
    }

    /// <summary>
    /// The socket directory is created with mode 700 (owned by the server's user) and, if it already exists,
    /// used only when it is exactly that: a folder another local user made first (a long data path puts it
    /// under /tmp) or one others can write to is refused.
    /// </summary>
    private void PrepareSocketDirectory()
    {
        if (!Directory.Exists(SocketDirectory))
        {
            CreatePrivateDirectory(SocketDirectory);
            GiveToServiceUser(SocketDirectory);
        }
        if (OperatingSystem.IsWindows()) return;
        var expectedOwner = IsRoot ? ServiceUser : Environment.UserName;
        var stat = Capture("stat", "-c", "%U %a", SocketDirectory).Split(' ');
        if (stat is not [var owner, var mode] || owner != expectedOwner || mode != "700")
            throw new InvalidOperationException(
                $"The PostgreSQL socket directory {SocketDirectory} exists with owner {stat.ElementAtOrDefault(0)} and mode " +
                $"{stat.ElementAtOrDefault(1)}; it must be owned by {expectedOwner} with mode 700. Remove it (or fix it) and start again.");
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(path);
        else Directory.CreateDirectory(path, OwnerOnlyDirectory);
    }

    /// <summary>
    /// We hold the owner lock, so any server still running on this cluster was left by a killed run of
    /// ours: stop it. A postmaster.pid whose process is gone (or is not postgres: PIDs get reused in
    /// containers) is removed so the server starts.
    /// </summary>
    private void RecoverFromKilledRun()
    {
        var pidFile = Path.Combine(ClusterDirectory, "postmaster.pid");
        if (!File.Exists(pidFile)) return;
        var firstLine = File.ReadLines(pidFile).FirstOrDefault();
        if (int.TryParse(firstLine, out var pid) && IsPostgresProcess(pid))
        {
            _logger.LogWarning("Stopping a PostgreSQL server (pid {Pid}) left behind by a previous run", pid);
            RunServerTool(TimeSpan.FromSeconds(60), "pg_ctl", "stop", "-D", ClusterDirectory, "-m", "fast", "-w");
        }
        else
        {
            _logger.LogWarning("Removing a stale postmaster.pid left by a killed run");
            File.Delete(pidFile);
        }
    }

    private static bool IsPostgresProcess(int pid)
    {
        try
        {
            var comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
            return comm is "postgres" or "postmaster";
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return true; }
    }

    private static FileStream AcquireOwnerLock(string path)
    {
        try
        {
            // FileShare.None takes an flock on Linux: released by the kernel if this process dies.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new InvalidOperationException(
                $"Another MemoryService process is using the data directory ({path} is locked). " +
                "Stop it or set Storage:DataDirectory to another folder.");
        }
    }

    /// <summary>Unix socket paths are limited to ~107 bytes; long data directories get a short private folder.</summary>
    private static string ChooseSocketDirectory(string clusterDirectory)
    {
        var candidate = Path.Combine(Path.GetDirectoryName(clusterDirectory)!, "run");
        if (Encoding.UTF8.GetByteCount(candidate) + 16 < 100) return candidate;
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(clusterDirectory)))[..12].ToLowerInvariant();
        return Path.Combine(Path.GetTempPath(), $"memsvc-{hash}");
    }

    private static string FindBinDirectory(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (File.Exists(Path.Combine(configured, "initdb"))) return configured;
            throw new InvalidOperationException($"Storage:PostgresBinDirectory '{configured}' has no initdb.");
        }
        const string root = "/usr/lib/postgresql";
        var found = Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(x => File.Exists(Path.Combine(x.Dir, "initdb")))
                .OrderByDescending(x => x.Version)
                .Select(x => x.Dir)
                .FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException(
            "No PostgreSQL server found (looked for initdb under /usr/lib/postgresql/*/bin). " +
            "Run scripts/prereqs.sh, or set ConnectionStrings:Memory to use an existing server.");
    }

    /// <summary>
    /// As root the server runs as the postgres user, which must be able to reach the data directory: a private
    /// (700) folder owned by root on the way there is refused up front, naming the folder, rather than failing
    /// later inside initdb with "Permission denied".
    /// </summary>
    private void RequireReachableByServiceUser(string directory)
    {
        if (!IsRoot || OperatingSystem.IsWindows()) return;
        try
        {
            Run(TimeSpan.FromSeconds(30), "runuser", "-u", ServiceUser, "--", "test", "-x", directory);
        }
        catch (InvalidOperationException)
        {
            var blocking = new List<string>();
            for (var d = directory; !string.IsNullOrEmpty(d); d = Path.GetDirectoryName(d))
                if (!File.GetUnixFileMode(d).HasFlag(UnixFileMode.OtherExecute)) blocking.Insert(0, d);
            var folders = string.Join(' ', blocking);
            throw new InvalidOperationException(
                $"Running as root, the embedded PostgreSQL server runs as the '{ServiceUser}' user, which cannot reach the data " +
                $"directory {directory}: {(blocking.Count == 0 ? "a folder on the way" : folders)} may not be entered by others. " +
                $"Let others traverse {(blocking.Count == 1 ? "it" : "them")} (chmod o+x {folders}), choose a data directory " +
                "elsewhere (Storage:DataDirectory), or run the service as a non-root user.");
        }
    }

    private void GiveToServiceUser(string path)
    {
        if (!IsRoot) return;
        Run(TimeSpan.FromSeconds(30), "chown", "-R", $"{ServiceUser}:{ServiceUser}", path);
    }

    /// <summary>PostgreSQL refuses to run as root, so as root its tools run as the postgres user.</summary>
    private void RunServerTool(TimeSpan timeout, string tool, params string[] args)
    {
        var exe = Path.Combine(_binDir, tool);
        if (IsRoot) Run(timeout, "runuser", ["-u", ServiceUser, "--", exe, .. args]);
        else Run(timeout, exe, args);
    }

    private string Capture(string file, params string[] args) => Run(TimeSpan.FromSeconds(30), file, args).Trim();

    private string Run(TimeSpan timeout, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {file}.");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args.Take(2))} timed out after {timeout.TotalSeconds:0} s.");
        }
        if (p.ExitCode != 0)
        {
            var log = Path.Combine(ClusterDirectory, "server.log");
            var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(10)) : "";
            throw new InvalidOperationException(
                $"{Path.GetFileName(file)} {string.Join(' ', args.Take(2))} failed (exit {p.ExitCode}): {stderr.Result.Trim()} {stdout.Result.Trim()}\n{tail}".Trim());
        }
        return stdout.Result;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", System.Text.RegularExpressions.RegexOptions.NonBacktracking)]
    private static partial System.Text.RegularExpressions.Regex DatabaseName();
}
