using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace MemoryService.Webhooks;

/// <summary>
/// The server-side request forgery guard: an endpoint must be http(s) and every address its host resolves to must be
/// public, unless Webhooks:AllowPrivateNetworks. Checked when an endpoint is registered and again at every connect
/// (<see cref="ConnectAsync"/>), so a name that later resolves elsewhere (DNS rebinding) is refused too.
/// </summary>
public sealed class UrlGuard(IOptions<WebhooksOptions> options)
{
    // Loopback, "this network", RFC 1918, carrier-grade NAT (Alibaba's metadata 100.100.100.200), link-local (the cloud
    // metadata address 169.254.169.254), IETF protocol assignments, documentation, benchmarking, multicast and reserved.
    private static readonly IPNetwork[] Blocked =
    [
        .. new[]
        {
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
            "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
            "::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32", "100::/64",
        }.Select(IPNetwork.Parse),
    ];

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return !Blocked.Any(n => n.Contains(address));
    }

    /// <summary>Null when <paramref name="url"/> may be called; else why not (a 422's detail).</summary>
    public async Task<string?> CheckAsync(Uri url, CancellationToken ct)
    {
        if (options.Value.AllowPrivateNetworks) return null;
        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(url.IdnHost, ct);
        }
        catch (Exception ex) when (ex is SocketException || ex is OperationCanceledException && !ct.IsCancellationRequested)
        {
            return $"The host '{url.Host}' does not resolve.";
        }
        if (addresses.Length == 0) return $"The host '{url.Host}' does not resolve.";
        return addresses.FirstOrDefault(a => !IsPublic(a)) is { } bad
            ? $"The host '{url.Host}' resolves to {bad}, a loopback, private, link-local or otherwise non-public address; webhooks are only sent to public addresses."
            : null;
    }

    /// <summary>
    /// SocketsHttpHandler.ConnectCallback: resolves the host, refuses a non-public address (unless allowed) and connects
    /// to the address that was checked, never to a second resolution.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var endpoint = context.DnsEndPoint;
        var addresses = await ResolveAsync(endpoint.Host, ct);
        if (!options.Value.AllowPrivateNetworks && addresses.FirstOrDefault(a => !IsPublic(a)) is { } bad)
            throw new HttpRequestException($"Refused: '{endpoint.Host}' resolves to the non-public address {bad}.");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal)) return [literal];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        return await Dns.GetHostAddressesAsync(host, timeout.Token);
    }
}
