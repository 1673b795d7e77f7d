using System.ComponentModel.DataAnnotations;

namespace Helios.ServiceDefaults.Configuration;

public sealed class KafkaTopicsOptions
{
    public const string SectionName = "Helios:Kafka";

    [Required]
    public string EventsTopic { get; set; } = "events";

    [Required]
    public string AlertsTopic { get; set; } = "anomaly-alerts";

    [Required]
    public string DeadLetterTopic { get; set; } = "events.dlq";

    [Required]
    public string DetectorGroup { get; set; } = "helios-detector";

    /// <summary>The event storage writer's own consumer group: storage and detection progress independently.</summary>
    [Required]
    public string StorageGroup { get; set; } = "helios-storage";
}

public enum AlertRule
{
    Evidence,
    Forest,
}

public sealed class DetectionOptions
{
    public const string SectionName = "Helios:Detection";

    [Range(1, 1440)]
    public int WindowSizeMinutes { get; set; } = 5;

    [Range(1, 1_000_000)]
    public int MinEventsPerWindow { get; set; } = 10;

    [Range(0, 3600)]
    public int AllowedLatenessSeconds { get; set; } = 30;

    /// <summary>A partition silent this long (wall clock) stops holding the watermark back; when all are, open windows flush.</summary>
    [Range(1, 3600)]
    public int IdleTimeoutSeconds { get; set; } = 30;

    [Range(0, 1440)]
    public int AlertCooldownMinutes { get; set; } = 10;

    [Range(0.0001, 0.5)]
    public double Contamination { get; set; } = 0.05;

    /// <summary>Optional override of the model's own decision threshold (score_samples offset); unset uses the model's.</summary>
    public double? AnomalyThreshold { get; set; }

    /// <summary>
    /// How a scored window becomes an alert. Evidence (default): for services the model has a baseline for,
    /// the corroborated surprise reaching <see cref="SurpriseThreshold"/>; for the others, the forest's
    /// decision. Forest: the forest's decision (score below the threshold) for every service, as the seed did.
    /// </summary>
    public AlertRule AlertRule { get; set; } = AlertRule.Evidence;

    /// <summary>
    /// Corroborated surprise (decimal digits, -log10 p) at which a window of a baselined service alerts:
    /// 6.6 is the chaos benchmark's operating point (the lowest threshold with validation precision >= 0.97).
    /// </summary>
    [Range(0.1, 1000)]
    public double SurpriseThreshold { get; set; } = 6.6;

    [Range(1, 600)]
    public int ModelRefreshSeconds { get; set; } = 1;

    /// <summary>
    /// Consume loops in one detector process, each a member of the consumer group with partitions of its own (as that
    /// many detector processes would be), so detection can use more than one core. One by default: on the benchmark's
    /// two cores, shared with PostgreSQL and the broker, a second loop cost more CPU per event than it gained.
    /// </summary>
    [Range(1, 16)]
    public int Loops { get; set; } = 1;

    public TimeSpan WindowSize => TimeSpan.FromMinutes(WindowSizeMinutes);

    public TimeSpan AllowedLateness => TimeSpan.FromSeconds(AllowedLatenessSeconds);

    public TimeSpan IdleTimeout => TimeSpan.FromSeconds(IdleTimeoutSeconds);

    public TimeSpan AlertCooldown => TimeSpan.FromMinutes(AlertCooldownMinutes);
}
