using System.Text.Json;
using Microsoft.EntityFrameworkCore;

namespace MemoryService.Data;

public sealed class MemoryDb(DbContextOptions<MemoryDb> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(MemoryDb).Assembly);
        // The schema is hand-written in snake_case (Data/Migrations); map names by convention.
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            entity.SetTableName(entity.GetTableName() is { } t ? JsonNamingPolicy.SnakeCaseLower.ConvertName(t) : null);
            foreach (var property in entity.GetProperties())
                property.SetColumnName(JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name));
        }
    }
}
