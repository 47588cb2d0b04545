using System.Diagnostics;
using MemoryService.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace MemoryService.Tests.Foundation;

/// <summary>The embedded default's own cluster lifecycle: the code the service runs with no connection string.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class EmbeddedPostgresTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "memsvc-pgtest-" + Guid.NewGuid().ToString("N")[..8]);
    private string ClusterDir => Path.Combine(_root, "pgdata");

    private EmbeddedPostgres StartCluster() =>
        EmbeddedPostgres.Start(ClusterDir, null, "memory", TimeSpan.FromSeconds(60), NullLogger.Instance);

    [Fact]
    public async Task DataSurvivesStopAndStartAndAStaleLockFromAKilledServerIsRecovered()
    {
        using (var pg = StartCluster())
        {
            await Exec(pg, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
        }

        // A second run finds the data; then its server is killed hard, leaving postmaster.pid behind.
        using (var pg = StartCluster())
        {
            Assert.Equal("still here", await Scalar(pg, "SELECT v FROM kept"));
            var pid = int.Parse(File.ReadLines(Path.Combine(ClusterDir, "postmaster.pid")).First());
            Process.GetProcessById(pid).Kill();
            await WaitUntil(() => !File.Exists($"/proc/{pid}/status") || File.ReadAllText($"/proc/{pid}/status").Contains("zombie"));
            NpgsqlConnection.ClearAllPools();
        }
        Assert.True(File.Exists(Path.Combine(ClusterDir, "postmaster.pid")), "the killed server left its lock file");

        using (var pg = StartCluster())
        {
            Assert.Equal("still here", await Scalar(pg, "SELECT v FROM kept"));
        }
    }

    [Fact]
    public async Task SecondServiceOnTheSameDataDirectoryFailsFastAndLeavesTheFirstRunning()
    {
        using var first = StartCluster();
        var ex = Assert.Throws<InvalidOperationException>(() => StartCluster());
        Assert.Contains("Another MemoryService process", ex.Message);
        // the refused second start must not have stopped the first one's server
        Assert.Equal(1, await Scalar(first, "SELECT 1"));
    }

    [Fact]
    public async Task ConnectionsNeedThePasswordKeptInAnOwnerOnlySecretFile()
    {
        using var pg = StartCluster();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pg.SecretFile));
        Assert.Equal(1, await Scalar(pg, "SELECT 1"));

        var noPassword = new NpgsqlConnectionStringBuilder(pg.ConnectionString("memory")) { Password = null, Pooling = false };
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => Open(noPassword.ConnectionString));
        var wrong = new NpgsqlConnectionStringBuilder(pg.ConnectionString("memory")) { Password = new string('0', 64), Pooling = false };
        var refused = await Assert.ThrowsAsync<PostgresException>(() => Open(wrong.ConnectionString));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState);
    }

    [Fact]
    public async Task AClusterThatTrustedItsSocketIsSwitchedToPasswordsAndKeepsItsData()
    {
        using (var pg = StartCluster())
        {
            await Exec(pg, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
        }
        // What a cluster made by an earlier version looks like: trust, no secret.
        File.WriteAllText(Path.Combine(ClusterDir, "pg_hba.conf"), "local all all trust\n");
        File.Delete(ClusterDir + ".secret");

        using (var pg = StartCluster())
        {
            Assert.Equal("still here", await Scalar(pg, "SELECT v FROM kept"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pg.SecretFile));
            var noPassword = new NpgsqlConnectionStringBuilder(pg.ConnectionString("memory")) { Password = null, Pooling = false };
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => Open(noPassword.ConnectionString));
        }
    }

    [Fact]
    public async Task APrivateDataDirectoryWorksForItsOwnerAndAsRootIsRefusedWithTheFolderToFix()
    {
        // A data directory under a folder only its owner may enter (mktemp -d makes such folders).
        var outer = Path.Combine(_root, "private");
        Directory.CreateDirectory(outer, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var start = () => EmbeddedPostgres.Start(Path.Combine(outer, "data", "pgdata"), null, "memory", TimeSpan.FromSeconds(60), NullLogger.Instance);
        if (!EmbeddedPostgres.IsRoot)
        {
            using var pg = start();
            Assert.Equal(1, await Scalar(pg, "SELECT 1"));
            return;
        }
        var ex = Assert.Throws<InvalidOperationException>(start);
        Assert.Contains($"cannot reach the data directory {Path.Combine(outer, "data")}", ex.Message);
        Assert.Contains($"chmod o+x {outer}", ex.Message);
        Assert.False(Directory.Exists(Path.Combine(outer, "data", "pgdata")), "a refused start left a cluster behind");
    }

    [Fact]
    public void ASocketDirectoryOthersCanWriteToIsRefused()
    {
        // Made first by someone else (or left wide open): the service must not put its socket there.
        var socketDir = Path.Combine(_root, "run");
        Directory.CreateDirectory(socketDir);
        File.SetUnixFileMode(socketDir, (UnixFileMode)0b111_111_111);
        var ex = Assert.Throws<InvalidOperationException>(() => StartCluster());
        Assert.Contains($"socket directory {socketDir} exists", ex.Message);
        Assert.Contains("mode 777", ex.Message);
        Assert.False(File.Exists(Path.Combine(ClusterDir, "PG_VERSION")), "the cluster was created despite the refusal");
    }

    private static async Task Open(string connectionString)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
    }

    private static async Task Exec(EmbeddedPostgres pg, string sql)
    {
        await using var conn = new NpgsqlConnection(pg.ConnectionString("memory"));
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<object?> Scalar(EmbeddedPostgres pg, string sql)
    {
        await using var conn = new NpgsqlConnection(pg.ConnectionString("memory"));
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return await cmd.ExecuteScalarAsync();
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++) await Task.Delay(100);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
