using System.ComponentModel.DataAnnotations;

namespace MemoryService.Data;

/// <summary>Where the embedded default keeps its files (section "Storage").</summary>
public sealed class StorageOptions
{
    /// <summary>
    /// Holds the private PostgreSQL cluster (<c>pgdata/</c>) and <c>default-api-key.txt</c>.
    /// Defaults to <c>/var/lib/memoryservice</c> for root and <c>$XDG_DATA_HOME/memoryservice</c> otherwise.
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>Folder with initdb/pg_ctl; found under /usr/lib/postgresql when empty.</summary>
    public string? PostgresBinDirectory { get; set; }

    /// <summary>How long the embedded server may take to start.</summary>
    [Range(5, 600)]
    public int StartTimeoutSeconds { get; set; } = 60;

    /// <summary>How often the supervisor checks that the embedded postmaster is alive.</summary>
    [Range(100, 60_000)]
    public int SupervisePollMilliseconds { get; set; } = 1000;

    /// <summary>Consecutive failed restarts of the embedded server after which the service exits (code 1).</summary>
    [Range(1, 100)]
    public int RestartAttempts { get; set; } = 5;

    public string ResolveDataDirectory()
    {
        if (!string.IsNullOrWhiteSpace(DataDirectory)) return Path.GetFullPath(DataDirectory);
        if (EmbeddedPostgres.IsRoot) return "/var/lib/memoryservice";
        var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
        var baseDir = string.IsNullOrEmpty(xdg)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share")
            : xdg;
        return Path.Combine(baseDir, "memoryservice");
    }
}
