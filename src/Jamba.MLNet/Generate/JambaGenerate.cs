using System.Text.Json.Nodes;
using Jamba.Inference;
using Jamba.MLNet.Internal;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>Options of <see cref="JambaTransformsCatalog.Generate(string, string, JambaModel, JambaGenerationOptions)"/>.</summary>
public sealed class JambaGenerationOptions
{
    /// <summary>Most new tokens per row. Default 32.</summary>
    public int MaxNewTokens { get; set; } = 32;
    /// <summary>Softmax temperature; 0 (the default) decodes greedily.</summary>
    public float Temperature { get; set; }
    /// <summary>Sample among the k most likely tokens only; 0 (default) keeps all.</summary>
    public int TopK { get; set; }
    /// <summary>Nucleus sampling mass; 1 (default) keeps all.</summary>
    public float TopP { get; set; } = 1f;
    /// <summary>
    /// Sampling seed. With a seed, each row is sampled with a seed derived from this one and the row's prompt tokens,
    /// so a prompt's completion does not depend on its batch, its position or the thread. Null draws fresh randomness.
    /// </summary>
    public long? Seed { get; set; }
    /// <summary>Ids that end a row (not included in the text). Null: the config's EOS ids.</summary>
    public int[]? StopTokenIds { get; set; }
    /// <summary>Most prompt tokens kept, BOS included (0: no limit). Default 1024; longer prompts keep their end.</summary>
    public int MaxPromptTokens { get; set; } = 1024;
    /// <summary>Which prompt tokens survive truncation. Default: keep the end (the part the continuation follows).</summary>
    public TruncationPolicy Truncation { get; set; } = TruncationPolicy.KeepEnd;
    /// <summary>Start prompts with BOS. Default true.</summary>
    public bool AddBos { get; set; } = true;
    /// <summary>Rows decoded together (greedy decoding only; sampled rows decode one by one). Default 8.</summary>
    public int BatchSize { get; set; } = 8;

    internal GenerationOptions ToLibrary(long? seed) => new()
    {
        MaxNewTokens = MaxNewTokens, Temperature = Temperature, TopK = TopK, TopP = TopP, Seed = seed,
        StopTokenIds = StopTokenIds,
    };

    internal JsonObject ToJson() => new()
    {
        ["maxNewTokens"] = MaxNewTokens, ["temperature"] = Temperature, ["topK"] = TopK, ["topP"] = TopP, ["seed"] = Seed,
        ["stopTokenIds"] = StopTokenIds is null ? null : new JsonArray(StopTokenIds.Select(i => (JsonNode?)i).ToArray()),
        ["maxPromptTokens"] = MaxPromptTokens, ["truncation"] = Truncation.ToString(), ["addBos"] = AddBos, ["batchSize"] = BatchSize,
    };
    internal static JambaGenerationOptions FromJson(JsonNode? n) => new()
    {
        MaxNewTokens = (int)n!["maxNewTokens"]!, Temperature = (float)n["temperature"]!, TopK = (int)n["topK"]!, TopP = (float)n["topP"]!,
        Seed = (long?)n["seed"], StopTokenIds = n["stopTokenIds"]?.AsArray().Select(x => (int)x!).ToArray(),
        MaxPromptTokens = (int)n["maxPromptTokens"]!, Truncation = Enum.Parse<TruncationPolicy>((string)n["truncation"]!),
        AddBos = (bool)n["addBos"]!, BatchSize = (int)n["batchSize"]!,
    };
}

/// <summary>Estimator of <see cref="JambaGeneratingTransformer"/>: prompt text → completion text.</summary>
public sealed class JambaGeneratingEstimator : JambaEstimatorBase<JambaGeneratingTransformer>
{
    private readonly JambaModel model;
    private readonly string outputColumnName, inputColumnName;
    private readonly JambaGenerationOptions options;

    internal JambaGeneratingEstimator(JambaModel model, string outputColumnName, string inputColumnName, JambaGenerationOptions options)
    {
        this.model = model;
        this.outputColumnName = outputColumnName;
        this.inputColumnName = inputColumnName;
        this.options = options;
    }

    /// <inheritdoc/>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        SchemaChecks.Check(inputSchema, JambaGeneratingTransformer.Component, "input", inputColumnName, ColumnExpectation.Text);
        return MLNetInterop.Extend(inputSchema, new[] { MLNetInterop.ShapeColumn(outputColumnName, SchemaShape.Column.VectorKind.Scalar, TextDataViewType.Instance, false) });
    }

    private protected override JambaGeneratingTransformer Create() => new(model, false, outputColumnName, inputColumnName, options);
}

/// <summary>
/// Adds the generated continuation of a prompt column as text, decoded with the hybrid KV + Mamba-state cache
/// (greedy when <see cref="JambaGenerationOptions.Temperature"/> is 0). The completion excludes the prompt and the
/// stop token; ids the tokenizer cannot decode (a model vocabulary padded beyond the tokenizer's) are dropped. Null or
/// empty prompts start from BOS alone (an empty completion when the vocabulary has no BOS).
/// </summary>
public sealed class JambaGeneratingTransformer : JambaTransformerBase
{
    internal const string Component = "Jamba Generate";
    internal const string Kind = "Generate";

    /// <summary>The added column.</summary>
    public string OutputColumnName { get; }
    /// <summary>The prompt column read.</summary>
    public string InputColumnName { get; }
    /// <summary>The options (do not change after fitting).</summary>
    public JambaGenerationOptions Options { get; }

    internal JambaGeneratingTransformer(JambaModel model, bool ownsModel, string outputColumnName, string inputColumnName, JambaGenerationOptions options) : base(model, ownsModel)
    {
        model.RequireTokenizer();
        if (model.CausalLM is null) throw new InvalidOperationException($"{Component} needs a causal LM (JambaForCausalLM); the model is a {model.Network.GetType().Name}");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1");
        options.ToLibrary(options.Seed).Validate();
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        Options = options;
    }

    internal override string PersistenceKind => Kind;
    internal override JsonObject SaveSettings() => new() { ["output"] = OutputColumnName, ["input"] = InputColumnName, ["options"] = Options.ToJson() };
    internal static JambaGeneratingTransformer Load(JambaModel model, bool owns, JsonObject s) =>
        new(model, owns, (string)s["output"]!, (string)s["input"]!, JambaGenerationOptions.FromJson(s["options"]));

    internal override JambaMapper Bind(DataViewSchema inputSchema)
    {
        var column = SchemaChecks.Check(inputSchema, Component, "input", InputColumnName, ColumnExpectation.Text);
        return new Mapper(this, inputSchema, column);
    }

    private sealed class Mapper : JambaMapper
    {
        private readonly JambaGeneratingTransformer parent;

        public Mapper(JambaGeneratingTransformer parent, DataViewSchema schema, DataViewSchema.Column column)
            : base(schema, new[] { new InputColumn(column, ColumnReaders.Text) },
                   new[] { new OutputColumn(parent.OutputColumnName, TextDataViewType.Instance) })
            => this.parent = parent;

        public override int BatchSize => parent.Options.BatchSize;

        public override object?[][] MapBatch(IReadOnlyList<object?[]> rows)
        {
            var o = parent.Options;
            var model = parent.Model;
            var tokenizer = model.RequireTokenizer();
            var prompts = rows.Select(r => TextEncoding.Encode(tokenizer, (string?)r[0], o.MaxPromptTokens, o.Truncation, o.AddBos)).ToArray();
            var completions = new string?[rows.Count];
            var live = Enumerable.Range(0, rows.Count).Where(i => prompts[i].Length > 0).ToArray();
            foreach (int i in Enumerable.Range(0, rows.Count).Except(live)) completions[i] = string.Empty;
            if (o.MaxNewTokens == 0) { foreach (int i in live) completions[i] = string.Empty; live = Array.Empty<int>(); }
            var stop = new HashSet<int>(o.StopTokenIds ?? model.Config.EosTokenIds);

            if (o.Temperature > 0)
            {
                foreach (int i in live)
                {
                    long? seed = o.Seed is long s ? RowSeed(s, prompts[i]) : null;
                    completions[i] = Decode(model.StreamIds(new[] { prompts[i] }, o.ToLibrary(seed)).Select(step => step[0]), stop, tokenizer);
                }
            }
            else if (live.Length > 0)
            {
                var generated = live.Select(_ => new List<int>()).ToArray();
                foreach (var step in model.StreamIds(live.Select(i => (IReadOnlyList<int>)prompts[i]).ToList(), o.ToLibrary(null)))
                    for (int k = 0; k < live.Length; k++) generated[k].Add(step[k]);
                for (int k = 0; k < live.Length; k++) completions[live[k]] = Decode(generated[k], stop, tokenizer);
            }
            return new[] { completions.Cast<object?>().ToArray() };
        }

        private static string Decode(IEnumerable<int> ids, HashSet<int> stop, Jamba.Tokenization.IJambaTokenizer tokenizer)
            => tokenizer.Decode(ids.TakeWhile(id => !stop.Contains(id)).Where(id => id < tokenizer.VocabSize));

        /// <summary>FNV-1a over the seed and the prompt ids: stable across runs and processes (string.GetHashCode is not).</summary>
        private static long RowSeed(long seed, int[] prompt)
        {
            ulong h = 14695981039346656037UL ^ (ulong)seed;
            foreach (int id in prompt) { h ^= (uint)id; h *= 1099511628211UL; }
            return (long)(h & 0x7FFF_FFFF_FFFF_FFFF);
        }
    }
}
