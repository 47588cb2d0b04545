using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using Npgsql;

namespace MemoryService.Tests.Hardening;

/// <summary>
/// The service reaches its database through a loopback TCP relay the test can cut, so "the database is down"
/// is a real refused connection, not a mock.
/// </summary>
public sealed class DatabaseDownTests : IAsyncLifetime
{
    private readonly Relay _relay;
    private readonly RelayedApiFactory _factory;

    public DatabaseDownTests()
    {
        var real = TestDatabase.CreateDatabase();
        _relay = Relay.Start(new NpgsqlConnectionStringBuilder(real));
        _factory = new RelayedApiFactory(real, _relay.Port);
    }

    [Fact]
    public async Task WritesAndReadsAnswer503WithRetryAfterWhileTheDatabaseIsDownAndWorkAfterwards()
    {
        using var t = await _factory.NewTenantAsync();
        var ok = await t.Http.PostAsync("/v1/users/u/memories", new StringContent("""{"content": "Likes tea"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);

        _relay.Down();
        NpgsqlConnection.ClearAllPools();
        for (var i = 0; i < 10; i++)
        {
            var write = await t.Http.PostAsync("/v1/users/u/memories", new StringContent($$"""{"content": "Likes coffee {{i}}"}""", Encoding.UTF8, "application/json"));
            var body = await write.Content.ReadAsStringAsync();
            Assert.True(write.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)write.StatusCode}: {body}");
            Assert.Equal("application/problem+json", write.Content.Headers.ContentType?.MediaType);
            Assert.NotNull(write.Headers.RetryAfter);
            Assert.Equal("Database unavailable", JsonDocument.Parse(body).RootElement.GetProperty("title").GetString());
            var read = await t.Http.GetAsync("/v1/users/u/memories");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, read.StatusCode);
        }

        _relay.Up();
        var again = await t.Http.PostAsync("/v1/users/u/memories", new StringContent("""{"content": "Likes water"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
    }

    [Fact]
    public async Task AStatementErrorIsA500WithATraceIdNotA503()
    {
        using var t = await _factory.NewTenantAsync();
        // Break a statement, not the connection: the memories table loses a column the service writes.
        await using (var conn = new NpgsqlConnection(_factory.RealConnectionString))
        {
            await conn.OpenAsync();
            await new NpgsqlCommand("ALTER TABLE memories RENAME COLUMN content TO content_gone", conn).ExecuteNonQueryAsync();
        }
        var write = await t.Http.PostAsync("/v1/users/u/memories", new StringContent("""{"content": "Likes tea"}""", Encoding.UTF8, "application/json"));
        var body = await write.Content.ReadAsStringAsync();
        Assert.True(write.StatusCode == HttpStatusCode.InternalServerError, $"{(int)write.StatusCode}: {body}");
        Assert.False(write.Headers.Contains("Retry-After"));
        Assert.False(string.IsNullOrEmpty(JsonDocument.Parse(body).RootElement.GetProperty("trace_id").GetString()));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        _relay.Dispose();
        TestDatabase.DropDatabase(_factory.RealConnectionString);
    }

    private sealed class RelayedApiFactory(string real, int port) : ApiFactory(new NpgsqlConnectionStringBuilder(real) { Host = "127.0.0.1", Port = port, Timeout = 3 }.ConnectionString)
    {
        public string RealConnectionString { get; } = real;
    }

    /// <summary>A TCP relay on a loopback port; Down() closes every relayed connection and refuses new ones.</summary>
    private sealed class Relay : IDisposable
    {
        private readonly string _host;
        private readonly int _targetPort;
        private readonly List<IDisposable> _open = [];
        private TcpListener? _listener;
        private volatile bool _down;

        private Relay(string host, int targetPort, int port)
        {
            _host = host;
            _targetPort = targetPort;
            Port = port;
        }

        public int Port { get; }

        public static Relay Start(NpgsqlConnectionStringBuilder target)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var relay = new Relay(target.Host!, target.Port, port);
            relay.Up();
            return relay;
        }

        public void Up()
        {
            _down = false;
            _listener = new TcpListener(IPAddress.Loopback, Port);
            _listener.Start();
            _ = AcceptAsync(_listener);
        }

        public void Down()
        {
            _down = true;
            _listener?.Stop();
            lock (_open)
            {
                foreach (var c in _open) c.Dispose();
                _open.Clear();
            }
        }

        public void Dispose() => Down();

        private async Task AcceptAsync(TcpListener listener)
        {
            while (!_down)
            {
                TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(); }
                catch (Exception) { return; }
                // The test cluster listens on a Unix socket (Host is its directory) or on TCP.
                var unix = _host.StartsWith('/');
                var upstream = unix ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                    : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    if (unix) await upstream.ConnectAsync(new UnixDomainSocketEndPoint($"{_host}/.s.PGSQL.{_targetPort}"));
                    else await upstream.ConnectAsync(_host, _targetPort);
                }
                catch (Exception)
                {
                    client.Dispose();
                    upstream.Dispose();
                    continue;
                }
                lock (_open) { _open.Add(client); _open.Add(upstream); }
                var up = new NetworkStream(upstream, ownsSocket: true);
                _ = Pump(client.GetStream(), up);
                _ = Pump(up, client.GetStream());
            }
        }

        private static async Task Pump(Stream from, Stream to)
        {
            try { await from.CopyToAsync(to); }
            catch (Exception) { /* the other side closed */ }
            finally { to.Dispose(); }
        }
    }
}
