using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Internal;

/// <summary>An output column a Jamba transformer adds.</summary>
internal sealed record OutputColumn(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations = null);

/// <summary>An input column a Jamba transformer reads, with how to read it.</summary>
internal sealed record InputColumn(DataViewSchema.Column Column, Func<DataViewRow, DataViewSchema.Column, Func<object?>> Reader);

/// <summary>
/// A Jamba transformer bound to one input schema: which columns it reads, which it adds, and how a batch of input
/// values becomes output values. The batching cursor, the row-to-row mapper (PredictionEngine) and the schema
/// propagation all work from this one object, so they cannot disagree.
/// </summary>
internal abstract class JambaMapper
{
    protected JambaMapper(DataViewSchema inputSchema, IReadOnlyList<InputColumn> inputs, IReadOnlyList<OutputColumn> outputs)
    {
        InputSchema = inputSchema;
        Inputs = inputs;
        Outputs = outputs;
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var o in outputs) builder.AddColumn(o.Name, o.Type, o.Annotations);
        OutputSchema = builder.ToSchema();
    }

    /// <summary>The schema the mapper was bound to.</summary>
    public DataViewSchema InputSchema { get; }
    /// <summary>The input columns, then the added ones (output index i &lt; input count is input column i).</summary>
    public DataViewSchema OutputSchema { get; }
    /// <summary>The columns read.</summary>
    public IReadOnlyList<InputColumn> Inputs { get; }
    /// <summary>The columns added.</summary>
    public IReadOnlyList<OutputColumn> Outputs { get; }

    /// <summary>Rows per model call.</summary>
    public abstract int BatchSize { get; }

    /// <summary>Maps input values (<c>rows[r][inputIndex]</c>) to output values (<c>result[outputIndex][r]</c>).</summary>
    public abstract object?[][] MapBatch(IReadOnlyList<object?[]> rows);

    /// <summary>Runs <see cref="MapBatch"/> with every tensor it creates freed before returning.</summary>
    public object?[][] MapBatchScoped(IReadOnlyList<object?[]> rows)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var _ = TorchSharp.torch.no_grad();
        return MapBatch(rows);
    }
}
