using Microsoft.ML;

namespace Jamba.MLNet;

/// <summary>
/// The estimator of every Jamba transform. The transforms learn nothing from data (like ML.NET's trivial estimators):
/// <see cref="Fit"/> checks the input schema and returns the transformer, which shares the model it was given.
/// </summary>
/// <typeparam name="TTransformer">The transformer produced.</typeparam>
public sealed class JambaEstimator<TTransformer> : IEstimator<TTransformer> where TTransformer : JambaTransformerBase
{
    private readonly Func<TTransformer> create;

    internal JambaEstimator(Func<TTransformer> create) => this.create = create;

    /// <summary>Checks <paramref name="input"/>'s schema and returns the transformer (the model is shared, not copied).</summary>
    public TTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = create();
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <summary>The input shape plus the added columns; throws, naming the column, when an input column is missing or of the wrong type.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return create().GetOutputShape(inputSchema);
    }
}
