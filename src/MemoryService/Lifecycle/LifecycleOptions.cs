using System.ComponentModel;
using System.ComponentModel.DataAnnotations;

namespace MemoryService.Lifecycle;

public enum LifecycleStep
{
    Consolidate,
    Forget,
    Promote,
}

/// <summary>Section "Lifecycle": the background scheduler, and the defaults a tenant's settings override.</summary>
public sealed class LifecycleOptions
{
    /// <summary>Run the lifecycle in the background for owners whose memories changed since their last run.</summary>
    public bool Enabled { get; set; }

    /// <summary>Minutes between sweeps of the scheduler (fractions allowed, e.g. 0.05 for three seconds).</summary>
    [Range(0.01, 10_080.0)] public double IntervalMinutes { get; set; } = 60;

    /// <summary>Most owners one sweep runs (the rest wait for the next sweep).</summary>
    [Range(1, 100_000)] public int OwnersPerSweep { get; set; } = 500;

    /// <summary>Most memories one run reads (newest first); an owner with more is worked through over several runs.</summary>
    [Range(10, 100_000)] public int MaxMemoriesPerRun { get; set; } = 5000;

    /// <summary>Thresholds and automatic steps for tenants that stored no settings of their own.</summary>
    public LifecycleSettings Defaults { get; set; } = new();
}

/// <summary>A tenant's lifecycle thresholds (GET/PUT /v1/settings/lifecycle); every field has a default.</summary>
public sealed record LifecycleSettings
{
    [Description("Steps the background scheduler runs for this tenant's users and knowledge; [] = none.")]
    public IReadOnlyList<LifecycleStep> AutoSteps { get; init; } = [LifecycleStep.Consolidate, LifecycleStep.Forget, LifecycleStep.Promote];

    [Description("Cosine at or above which two memories say the same thing; null = the calibrated value of the embedding model.")]
    public double? ConsolidateSimilarity { get; init; }

    [Description("Forget only memories whose ACT-R base-level activation (0..1) is below this.")]
    public double ForgetActivationBelow { get; init; } = 0.1;

    [Description("... and whose importance is below this.")]
    public double ForgetImportanceBelow { get; init; } = 0.3;

    [Description("... and whose confidence is below this.")]
    public double ForgetConfidenceBelow { get; init; } = 0.6;

    [Description("... and that were not used (searched, put in context, confirmed) for this many days.")]
    public int ForgetUnusedDays { get; init; } = 90;

    [Description("Preferences at or above this importance are never forgotten.")]
    public double KeepPreferencesFrom { get; init; } = 0.7;

    [Description("An activity seen on at least this many different days becomes a standing fact.")]
    public int PromoteMinDays { get; init; } = 3;

    [Description("Cosine at or above which two events are the same activity; null = the calibrated value of the embedding model minus 0.1.")]
    public double? PromoteSimilarity { get; init; }

    /// <summary>Field errors, keyed by JSON name.</summary>
    public Dictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>();
        void Unit(double? v, string field)
        {
            if (v is { } x && (double.IsNaN(x) || x < 0 || x > 1)) errors[field] = ["Between 0 and 1."];
        }
        Unit(ConsolidateSimilarity, "consolidate_similarity");
        Unit(ForgetActivationBelow, "forget_activation_below");
        Unit(ForgetImportanceBelow, "forget_importance_below");
        Unit(ForgetConfidenceBelow, "forget_confidence_below");
        Unit(KeepPreferencesFrom, "keep_preferences_from");
        Unit(PromoteSimilarity, "promote_similarity");
        if (ForgetUnusedDays is < 0 or > 36_500) errors["forget_unused_days"] = ["0-36500."];
        if (PromoteMinDays is < 2 or > 365) errors["promote_min_days"] = ["2-365."];
        if (AutoSteps is null || AutoSteps.Count > 3) errors["auto_steps"] = ["Any of consolidate, forget, promote."];
        return errors;
    }
}

/// <summary>
/// Cosine at or above which two memories embedded by one model say the same thing, once the word checks
/// (<see cref="LifecycleRunner.Traits"/>) passed. Calibrated with `bench lifecycle-calibrate` (docs/lifecycle.md): the lowest
/// value that merges no differing pair, plus 0.1 where the model's band leaves room (hashing, MiniLM); Arctic-xs's cosines
/// sit in a narrow high band, so it gets the bare value. Unknown models get a cautious 0.9.
/// </summary>
public static class SameThingThresholds
{
    public static double For(string modelId) => modelId switch
    {
        _ when modelId.StartsWith("hashing-", StringComparison.Ordinal) => 0.5,
        _ when modelId.StartsWith("local:snowflake-arctic-embed-xs", StringComparison.Ordinal) => 0.96,
        _ when modelId.StartsWith("local:all-minilm-l6-v2", StringComparison.Ordinal) => 0.69,
        _ => 0.9,
    };
}
