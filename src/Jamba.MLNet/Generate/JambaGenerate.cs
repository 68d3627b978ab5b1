using System.Text.Json.Nodes;
using Jamba.Inference;
using Microsoft.ML.Data;

namespace Jamba.MLNet;

/// <summary>Options of <see cref="JambaTransformsCatalog.Generate(string, string, JambaModel, JambaGenerationOptions)"/>.</summary>
public sealed class JambaGenerationOptions
{
    /// <summary>Most new tokens per row. Null (the default): the checkpoint's <c>generation_config.json</c>, else 32.</summary>
    public int? MaxNewTokens { get; set; }
    /// <summary>
    /// Softmax temperature; 0 decodes greedily. Null (the default): the checkpoint's <c>generation_config.json</c>
    /// (its temperature when it says <c>do_sample</c>), else greedy.
    /// </summary>
    public float? Temperature { get; set; }
    /// <summary>Sample among the k most likely tokens only; 0 keeps all. Null (the default): <c>generation_config.json</c>, else 0.</summary>
    public int? TopK { get; set; }
    /// <summary>Nucleus sampling mass; 1 keeps all. Null (the default): <c>generation_config.json</c>, else 1.</summary>
    public float? TopP { get; set; }
    /// <summary>Hugging Face's repetition penalty (1: none). Null (the default): <c>generation_config.json</c>, else 1.</summary>
    public float? RepetitionPenalty { get; set; }
    /// <summary>
    /// Sampling seed. With a seed, each row is sampled with a seed derived from this one and the row's prompt tokens,
    /// so a prompt's completion does not depend on its batch, its position or the thread. Null draws fresh randomness.
    /// </summary>
    public long? Seed { get; set; }
    /// <summary>Ids that end a row (not included in the text). Null: <c>generation_config.json</c>'s EOS ids, else the config's.</summary>
    public int[]? StopTokenIds { get; set; }
    /// <summary>Most prompt tokens kept, BOS included (0: no limit). Default 1024; longer prompts keep their end.</summary>
    public int MaxPromptTokens { get; set; } = 1024;
    /// <summary>Which prompt tokens survive truncation. Default: keep the end (the part the continuation follows).</summary>
    public TruncationPolicy Truncation { get; set; } = TruncationPolicy.KeepEnd;
    /// <summary>Start prompts with BOS. Default true.</summary>
    public bool AddBos { get; set; } = true;
    /// <summary>
    /// Treat each input text as a user message of a chat: the prompt is the checkpoint's chat template rendered over
    /// <see cref="SystemPrompt"/> (when set) and that message, with the generation prompt, encoded as transformers'
    /// <c>apply_chat_template</c> does (the template writes its own special tokens, so <see cref="AddBos"/> does not
    /// apply). For instruct checkpoints. Default false.
    /// </summary>
    public bool UseChatTemplate { get; set; }
    /// <summary>With <see cref="UseChatTemplate"/>, a system message put before each user message. Default none.</summary>
    public string? SystemPrompt { get; set; }
    /// <summary>Rows decoded together (greedy decoding only; sampled rows decode one by one). Default 8.</summary>
    public int BatchSize { get; set; } = 8;

    /// <summary>The library's options: what is set here, the rest from the checkpoint's generation defaults.</summary>
    internal GenerationOptions ToLibrary(long? seed, GenerationConfig? defaults)
    {
        var o = new GenerationOptions { Seed = seed, StopTokenIds = StopTokenIds };
        if (MaxNewTokens is int maxNewTokens) o.MaxNewTokens = maxNewTokens;
        if (Temperature is float temperature) o.Temperature = temperature;
        if (TopK is int topK) o.TopK = topK;
        if (TopP is float topP) o.TopP = topP;
        if (RepetitionPenalty is float penalty) o.RepetitionPenalty = penalty;
        return o.WithDefaults(defaults);
    }
}

/// <summary>
/// Adds the generated continuation of a prompt column as text, decoded with the hybrid KV + Mamba-state cache
/// (greedy when <see cref="JambaGenerationOptions.Temperature"/> is 0). The completion excludes the prompt and the
/// stop token; ids the tokenizer cannot decode (a model vocabulary padded beyond the tokenizer's) are dropped. Null or
/// empty prompts start from BOS alone (an empty completion when the vocabulary has no BOS).
/// </summary>
public sealed class JambaGeneratingTransformer : JambaTextTransformer<JambaGenerationOptions>
{
    internal const string Kind = "Generate";

    internal JambaGeneratingTransformer(JambaModel model, bool ownsModel, string outputColumnName, string inputColumnName, JambaGenerationOptions options)
        : base(model, ownsModel, outputColumnName, inputColumnName, options)
    {
        if (model.CausalLM is null) throw new InvalidOperationException($"{Component} needs a causal LM (JambaForCausalLM); the model is a {model.Network.GetType().Name}");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1");
        options.ToLibrary(options.Seed, model.GenerationConfig).Validate();
        if (options.UseChatTemplate && model.ChatTemplate is null)
            throw new ArgumentException($"{nameof(JambaGenerationOptions.UseChatTemplate)} is set, but the model has no chat template: "
                + "its folder has neither chat_template.jinja nor a chat_template in tokenizer_config.json", nameof(options));
        if (options.SystemPrompt is not null && !options.UseChatTemplate)
            throw new ArgumentException($"{nameof(JambaGenerationOptions.SystemPrompt)} needs {nameof(JambaGenerationOptions.UseChatTemplate)}", nameof(options));
    }

    internal static JambaGeneratingTransformer Load(JambaModel model, bool owns, JsonObject settings) =>
        Load(settings, Kind, (output, input, options) => new JambaGeneratingTransformer(model, owns, output, input, options));

    internal override string PersistenceKind => Kind;
    private protected override DataViewType OutputType => TextDataViewType.Instance;
    private protected override int BatchSize => Options.BatchSize;

    private protected override object?[] Map(IReadOnlyList<string?> texts)
    {
        var o = Options;
        var model = Model;
        var tokenizer = model.RequireTokenizer();
        var prompts = texts.Select(t => o.UseChatTemplate ? ChatPrompt(model, t, o) : TextEncoding.Encode(tokenizer, t, o.MaxPromptTokens, o.Truncation, o.AddBos)).ToArray();
        var completions = new string?[texts.Count];
        var live = Enumerable.Range(0, texts.Count).Where(i => prompts[i].Length > 0).ToArray();
        foreach (int i in Enumerable.Range(0, texts.Count).Except(live)) completions[i] = string.Empty;
        var resolved = o.ToLibrary(null, model.GenerationConfig);
        if (resolved.MaxNewTokens == 0) { foreach (int i in live) completions[i] = string.Empty; live = Array.Empty<int>(); }
        var stop = new HashSet<int>(resolved.StopTokenIds ?? model.Config.EosTokenIds);

        if (resolved.Temperature > 0)
        {
            foreach (int i in live)
            {
                long? seed = o.Seed is long s ? RowSeed(s, prompts[i]) : null;
                completions[i] = Decode(model.StreamIds(new[] { prompts[i] }, o.ToLibrary(seed, model.GenerationConfig)).Select(step => step[0]), stop, tokenizer);
            }
        }
        else if (live.Length > 0)
        {
            var generated = live.Select(_ => new List<int>()).ToArray();
            foreach (var step in model.StreamIds(live.Select(i => (IReadOnlyList<int>)prompts[i]).ToList(), resolved))
                for (int k = 0; k < live.Length; k++) generated[k].Add(step[k]);
            for (int k = 0; k < live.Length; k++) completions[live[k]] = Decode(generated[k], stop, tokenizer);
        }
        return completions.Cast<object?>().ToArray();
    }

    /// <summary>The chat template over the system prompt (if any) and <paramref name="text"/> as the user's message.</summary>
    private static int[] ChatPrompt(JambaModel model, string? text, JambaGenerationOptions o)
    {
        var messages = new JsonArray();
        if (o.SystemPrompt is not null) messages.Add(new JsonObject { ["role"] = "system", ["content"] = o.SystemPrompt });
        messages.Add(new JsonObject { ["role"] = "user", ["content"] = text ?? string.Empty });
        return TextEncoding.Truncate(model.EncodeChat(messages), o.MaxPromptTokens, o.Truncation).ToArray();
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
