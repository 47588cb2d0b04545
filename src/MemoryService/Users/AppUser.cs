using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace MemoryService.Users;

/// <summary>A client's user, by the client's own id, created on first write.</summary>
public sealed class AppUser
{
    public Guid TenantId { get; set; }
    public required string Id { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>1-128 characters, no control characters.</summary>
    public static string? Validate(string? userId) =>
        string.IsNullOrEmpty(userId) || userId.Length > 128 ? "A user id is 1-128 characters."
        : userId.Any(char.IsControl) ? "A user id may not contain control characters."
        : null;
}

internal sealed class AppUserConfiguration : IEntityTypeConfiguration<AppUser>
{
    public void Configure(EntityTypeBuilder<AppUser> b)
    {
        b.ToTable("users");
        b.HasKey(u => new { u.TenantId, u.Id });
    }
}
