using System.Text.Json.Nodes;
using Jamba.MLNet.Internal;
using Jamba.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>
/// Common behaviour of every Jamba transformer: lazy, batched <see cref="Transform"/>, row-to-row mapping (so
/// <see cref="PredictionEngine{TSrc,TDst}"/> works), schema validation in <see cref="GetOutputSchema"/>, and
/// persistence through <see cref="JambaModelOperationsExtensions.SaveJamba"/> only. A transformer says only what
/// differs: the columns it reads, the columns it adds, its batch size and the work on one batch.
/// </summary>
public abstract class JambaTransformerBase : ITransformer, IDisposable
{
    private readonly bool ownsModel;
    private bool disposed;

    private protected JambaTransformerBase(JambaModel model, bool ownsModel)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        model.RequireTokenizer();
        this.ownsModel = ownsModel;
    }

    /// <summary>
    /// The Jamba model this transformer runs. Transforms share the model they were given (the caller keeps owning it);
    /// trainers' transformers and loaded pipelines own theirs and free it on <see cref="Dispose"/>.
    /// </summary>
    public JambaModel Model { get; }

    /// <summary>Always true: every Jamba transformer maps rows one to one.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus this transformer's columns; throws when an input column is missing or of the wrong type.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return Bind(inputSchema).OutputSchema;
    }

    /// <summary>
    /// A lazy view over <paramref name="input"/>: nothing is computed until it is read, then rows are read and scored in
    /// batches (each batch's tensors freed before the next), so any number of rows streams in flat memory.
    /// </summary>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ThrowIfDisposed();
        return new JambaDataView(input, Bind(input.Schema));
    }

    /// <summary>Row-at-a-time mapping (used by PredictionEngine); create one engine per thread.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ThrowIfDisposed();
        return new JambaRowToRowMapper(Bind(inputSchema));
    }

    /// <summary>
    /// ML.NET's own saving cannot hold Jamba weights (its model-writing API is internal to ML.NET), so this refuses
    /// with a message pointing at <c>ml.Model.SaveJamba</c> and removes the half-written file where the platform allows.
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => throw JambaModelFile.RefusePlainSave(this, ctx);

    /// <summary>Frees the model when this transformer owns it.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (ownsModel) Model.Dispose();
        GC.SuppressFinalize(this);
    }

    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    // ------------------------------------------------------------ what each transformer says

    /// <summary>The transformer's name at the start of its error messages (e.g. <c>Jamba Embed</c>).</summary>
    private protected abstract string Component { get; }

    /// <summary>The columns read, in the order <see cref="MapBatch"/> receives their values.</summary>
    private protected abstract IReadOnlyList<ColumnRequirement> InputColumns { get; }

    /// <summary>The columns added, given the input columns found (in <see cref="InputColumns"/>' order).</summary>
    private protected abstract IReadOnlyList<OutputColumn> OutputColumns(IReadOnlyList<DataViewSchema.Column> inputs);

    /// <summary>
    /// The added columns as the estimator's schema shape describes them. By default the shapes of
    /// <see cref="OutputColumns"/>, which is right whenever those do not depend on the input columns' types; a
    /// transformer whose outputs do (Classify's choices column) says how from the input shapes.
    /// </summary>
    private protected virtual IEnumerable<SchemaShape.Column> OutputShape(IReadOnlyList<SchemaShape.Column> inputs)
        => OutputColumns(Array.Empty<DataViewSchema.Column>()).Select(c => c.ToShape());

    /// <summary>Rows per model call.</summary>
    private protected abstract int BatchSize { get; }

    /// <summary>Maps input values (<c>rows[r][input]</c>) to the values of <paramref name="outputs"/> (<c>result[output][r]</c>).</summary>
    private protected abstract object?[][] MapBatch(IReadOnlyList<object?[]> rows, IReadOnlyList<OutputColumn> outputs);

    /// <summary>The name a saved pipeline records for this transformer kind.</summary>
    internal abstract string PersistenceKind { get; }

    /// <summary>The settings a saved pipeline records (column names and options, not the model).</summary>
    internal abstract JsonObject SaveSettings();

    // ------------------------------------------------------------ the skeleton

    /// <summary>Checks the input columns of a concrete schema and binds the transformer to it.</summary>
    internal JambaMapper Bind(DataViewSchema inputSchema)
    {
        var requirements = InputColumns;
        var found = requirements.Select(r => SchemaChecks.Check(inputSchema, Component, r.Role, r.Name, r.Expectation)).ToArray();
        var inputs = found.Select((column, i) => new InputColumn(column, Reader(requirements[i].Expectation))).ToArray();
        var outputs = OutputColumns(found);
        return new JambaMapper(inputSchema, inputs, outputs, BatchSize, rows => MapBatch(rows, outputs));
    }

    /// <summary>The estimator's view: checks the input columns of a schema shape and adds the output shapes.</summary>
    internal SchemaShape GetOutputShape(SchemaShape inputSchema)
    {
        var found = InputColumns.Select(r => SchemaChecks.Check(inputSchema, Component, r.Role, r.Name, r.Expectation)).ToArray();
        return MLNetInterop.Extend(inputSchema, OutputShape(found));
    }

    private static Func<DataViewRow, DataViewSchema.Column, Func<object?>> Reader(ColumnExpectation expectation) => expectation switch
    {
        ColumnExpectation.Text => ColumnReaders.Text,
        ColumnExpectation.TextVector => ColumnReaders.TextVector,
        _ => throw new NotSupportedException($"a Jamba transformer cannot read a {SchemaChecks.Expected(expectation)} column"),
    };
}
