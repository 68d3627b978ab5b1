using Microsoft.ML;

namespace Jamba.MLNet;

/// <summary>
/// Base of the Jamba transforms' estimators. They learn nothing from data (like ML.NET's trivial estimators):
/// <see cref="Fit"/> only validates the input schema and returns the transformer.
/// </summary>
/// <typeparam name="TTransformer">The transformer produced.</typeparam>
public abstract class JambaEstimatorBase<TTransformer> : IEstimator<TTransformer> where TTransformer : JambaTransformerBase
{
    private protected JambaEstimatorBase() { }

    /// <summary>Checks <paramref name="input"/>'s schema and returns the transformer (the model is shared, not copied).</summary>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = Create();
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <summary>The input shape plus the added columns; throws when an input column is missing or of the wrong type.</summary>
    public abstract SchemaShape GetOutputSchema(SchemaShape inputSchema);

    private protected abstract TTransformer Create();
}
