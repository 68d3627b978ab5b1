using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Internal;

/// <summary>An input column a Jamba transformer needs: its role in error messages, its name and the type it must have.</summary>
internal sealed record ColumnRequirement(string Role, string Name, ColumnExpectation Expectation);

/// <summary>An input column a Jamba transformer reads, with how to read it.</summary>
internal sealed record InputColumn(DataViewSchema.Column Column, Func<DataViewRow, DataViewSchema.Column, Func<object?>> Reader);

/// <summary>An output column a Jamba transformer adds.</summary>
internal sealed record OutputColumn(string Name, DataViewType Type, DataViewSchema.Annotations? Annotations = null)
{
    /// <summary>The column as an estimator's schema shape describes it (the rule of ML.NET's SchemaShape.Create).</summary>
    public SchemaShape.Column ToShape()
    {
        var annotations = Annotations is null ? null
            : new SchemaShape(Annotations.Schema.Select(a => new OutputColumn(a.Name, a.Type).ToShape()));
        var (kind, item) = Type is VectorDataViewType v
            ? (v.IsKnownSize ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector, v.ItemType)
            : (SchemaShape.Column.VectorKind.Scalar, Type);
        // A shape gives a key column its raw type as item type; every Jamba key is UInt32.
        bool isKey = item is KeyDataViewType;
        return MLNetInterop.ShapeColumn(Name, kind, isKey ? NumberDataViewType.UInt32 : item, isKey, annotations);
    }
}

/// <summary>
/// A Jamba transformer bound to one input schema: which columns it reads, which it adds, and how a batch of input
/// values becomes output values. The batching cursor, the row-to-row mapper (PredictionEngine) and the schema
/// propagation all work from this one object, so they cannot disagree.
/// </summary>
internal sealed class JambaMapper
{
    private readonly Func<IReadOnlyList<object?[]>, object?[][]> map;

    public JambaMapper(DataViewSchema inputSchema, IReadOnlyList<InputColumn> inputs, IReadOnlyList<OutputColumn> outputs,
        int batchSize, Func<IReadOnlyList<object?[]>, object?[][]> map)
    {
        InputSchema = inputSchema;
        Inputs = inputs;
        Outputs = outputs;
        BatchSize = batchSize;
        this.map = map;
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
    public int BatchSize { get; }

    /// <summary>
    /// Maps input values (<c>rows[r][inputIndex]</c>) to output values (<c>result[outputIndex][r]</c>), with every
    /// tensor created on the way freed before returning.
    /// </summary>
    public object?[][] MapBatchScoped(IReadOnlyList<object?[]> rows)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var _ = TorchSharp.torch.no_grad();
        return map(rows);
    }
}
