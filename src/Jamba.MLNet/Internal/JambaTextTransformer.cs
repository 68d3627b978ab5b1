using System.Text.Json.Nodes;
using Jamba.MLNet.Internal;
using Jamba.MLNet.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>
/// A Jamba transformer that reads one text column and adds one column (Tokenize, Embed, Generate). It holds the two
/// column names and the options, binds and saves them, so each transform says only its output type, batch size and
/// the work on a batch of texts.
/// </summary>
/// <typeparam name="TOptions">The transform's options (saved with the pipeline).</typeparam>
public abstract class JambaTextTransformer<TOptions> : JambaTransformerBase where TOptions : class
{
    private protected JambaTextTransformer(JambaModel model, bool ownsModel, string outputColumnName, string inputColumnName, TOptions options)
        : base(model, ownsModel)
    {
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <summary>The added column.</summary>
    public string OutputColumnName { get; }
    /// <summary>The text column read.</summary>
    public string InputColumnName { get; }
    /// <summary>The options (do not change after fitting).</summary>
    public TOptions Options { get; }

    /// <summary>The type of the added column.</summary>
    private protected abstract DataViewType OutputType { get; }

    /// <summary>The added column's value for each text (null or empty text arrives as "").</summary>
    private protected abstract object?[] Map(IReadOnlyList<string?> texts);

    private protected sealed override string Component => "Jamba " + PersistenceKind;

    private protected sealed override IReadOnlyList<ColumnRequirement> InputColumns => [new("input", InputColumnName, ColumnExpectation.Text)];

    private protected sealed override IReadOnlyList<OutputColumn> OutputColumns(IReadOnlyList<DataViewSchema.Column> inputs) => [new(OutputColumnName, OutputType)];

    private protected sealed override object?[][] MapBatch(IReadOnlyList<object?[]> rows, IReadOnlyList<OutputColumn> outputs)
        => [Map(rows.Select(r => (string?)r[0]).ToList())];

    internal sealed override JsonObject SaveSettings() => JambaSettingsJson.Write(new Saved(OutputColumnName, InputColumnName, Options));

    /// <summary>Rebuilds a transformer from the settings <see cref="SaveSettings"/> wrote.</summary>
    private protected static TTransformer Load<TTransformer>(JsonObject settings, string kind, Func<string, string, TOptions, TTransformer> create)
    {
        var saved = JambaSettingsJson.Read<Saved>(settings, kind);
        return create(saved.Output, saved.Input, saved.Options);
    }

    /// <summary>What a saved pipeline records: <c>{"output", "input", "options"}</c>.</summary>
    private sealed record Saved(string Output, string Input, TOptions Options);
}
