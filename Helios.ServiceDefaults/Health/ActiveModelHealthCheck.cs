using Helios.ServiceDefaults.Data;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Helios.ServiceDefaults.Health;

/// <summary>Ready only once an events model is active in the registry (SPEC: readiness covers the model).</summary>
public sealed class ActiveModelHealthCheck(ModelRegistry registry, SchemaInitializer schema) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!schema.Ready.IsCompletedSuccessfully)
        {
            return HealthCheckResult.Unhealthy("waiting for the schema");
        }

        var version = await registry.GetActiveVersionAsync(ModelRegistry.EventsKind, cancellationToken);
        return version is { } v ? HealthCheckResult.Healthy($"events model v{v} active") : HealthCheckResult.Unhealthy("no active events model yet (the detector trains the bootstrap model on first start)");
    }
}
