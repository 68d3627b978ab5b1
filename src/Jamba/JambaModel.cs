using Jamba.Chat;
using Jamba.Checkpoints;
using Jamba.Inference;
using Jamba.Modeling;
using Jamba.Planning;
using Jamba.Quantization;
using Jamba.Runtime;
using Jamba.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba;

/// <summary>Where and in which precision a <see cref="JambaModel"/> lives.</summary>
public sealed class JambaModelOptions
{
    /// <summary>Torch device string: <c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>. Default <c>cpu</c>.</summary>
    public string Device { get; set; } = "cpu";
    /// <summary>Parameter dtype: <c>f32</c> (default), <c>bf16</c> or <c>f16</c>. Weights on disk are converted.</summary>
    public string DType { get; set; } = "f32";
    /// <summary>Tokenizer to use instead of the checkpoint's: a <c>tokenizer.json</c> or <c>tokenizer.model</c> path, a folder holding one, or <c>byte</c>.</summary>
    public string? Tokenizer { get; set; }
    /// <summary>
    /// What runs generation's steps: <see cref="JambaEngine.Cpu"/> (default), the fused CPU kernels where they apply, or
    /// <see cref="JambaEngine.Reference"/>, the Modeling forward for every step.
    /// </summary>
    public JambaEngine Engine { get; set; } = JambaEngine.Cpu;
    /// <summary>
    /// Weight-only quantization of the decoder's linear layers: <see cref="JambaQuantization.None"/> (default) keeps them
    /// in <see cref="DType"/>; <see cref="JambaQuantization.Int8"/> or <see cref="JambaQuantization.Q4"/> quantizes a
    /// reference checkpoint while loading it (and a new model in <see cref="JambaModel.Create"/>). A quantized checkpoint
    /// loads as stored with None or with its own scheme; another scheme is an error. Quantized models are inference-only.
    /// </summary>
    public JambaQuantization Quantization { get; set; } = JambaQuantization.None;
    /// <summary>Inputs per scale of <see cref="JambaQuantization.Q4"/>: 32 (default) or 64.</summary>
    public int GroupSize { get; set; } = QuantizationConfig.DefaultGroupSize;
    /// <summary>
    /// Whether <see cref="Quantization"/> quantizes the LM head too (in the same scheme). Null (default): yes for a
    /// reference checkpoint or a new model, as stored for a quantized checkpoint. Tied embeddings keep the head in
    /// <see cref="DType"/> whatever this says.
    /// </summary>
    public bool? QuantizeLmHead { get; set; }
    /// <summary>
    /// What a quantized model's linears do with their inputs: <see cref="Jamba.Quantization.ActivationQuantization.Int8"/>
    /// (default) rounds them to int8 per block of 32 so the CPU kernels multiply in integers, as llama.cpp does with its
    /// 8-bit and 4-bit files; <see cref="Jamba.Quantization.ActivationQuantization.None"/> multiplies them as they are
    /// (weight-only quantization, slower on the CPU). Unused by full-precision models.
    /// </summary>
    public ActivationQuantization ActivationQuantization { get; set; } = ActivationQuantization.Int8;

    /// <summary>The parsed device.</summary>
    public Device TorchDevice => torch.device(Device);
    /// <summary>The parsed dtype.</summary>
    public ScalarType TorchDType => ParseDType(DType);

    /// <summary>
    /// The quantization to build for a checkpoint whose config.json carries <paramref name="stored"/> (null for a
    /// reference checkpoint): the stored one, or the one these options ask for; null for none.
    /// </summary>
    /// <exception cref="CheckpointException">The options ask for a scheme or group size the checkpoint is not stored in.</exception>
    public QuantizationConfig? QuantizationFor(QuantizationConfig? stored, string where)
    {
        if (Quantization == JambaQuantization.None) return stored;
        var asked = QuantizationConfig.Create(Quantization, GroupSize, QuantizeLmHead ?? stored?.LmHead ?? true);
        if (stored is null || stored == asked) return asked;
        throw new CheckpointException($"the quantization option ({asked}) disagrees with the checkpoint in {where}, which is stored quantized as {stored} (config.json {QuantizationConfig.ConfigKey}); load it without a quantization option (--quantize), or quantize a reference checkpoint instead", where)
        {
            ConfigKey = QuantizationConfig.ConfigKey,
        };
    }

    /// <summary>Parses <c>f32|float32|bf16|bfloat16|f16|float16</c>.</summary>
    public static ScalarType ParseDType(string dtype) => dtype.ToLowerInvariant() switch
    {
        "f32" or "float32" or "fp32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "f16" or "float16" or "fp16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"unknown dtype '{dtype}': use f32, bf16 or f16", nameof(dtype)),
    };
}

/// <summary>
/// A loaded Jamba checkpoint: configuration, the TorchSharp network (causal LM or sequence classifier) and the
/// tokenizer, on one device in one dtype. This is what the CLI and the ML.NET components hold. Loading and saving
/// use the Hugging Face folder layout, so a checkpoint moves between transformers and this library unchanged.
/// </summary>
public sealed class JambaModel : IDisposable
{
    /// <summary>The key in config.json that records a built-in tokenizer (transformers ignores unknown keys).</summary>
    public const string TokenizerConfigKey = "jamba_mlnet_tokenizer";

    private string? tokenizerSourceDir;

    /// <summary>The configuration.</summary>
    public JambaConfig Config { get; }
    /// <summary>The network: <see cref="JambaForCausalLM"/> or <see cref="JambaForSequenceClassification"/>.</summary>
    public nn.Module Network { get; }
    /// <summary>The network as a causal LM, or null for a classifier.</summary>
    public JambaForCausalLM? CausalLM => Network as JambaForCausalLM;
    /// <summary>The network as a classifier, or null for a causal LM.</summary>
    public JambaForSequenceClassification? Classifier => Network as JambaForSequenceClassification;
    /// <summary>The decoder stack shared by both heads.</summary>
    public JambaBackbone Backbone => CausalLM?.model ?? Classifier!.model;
    /// <summary>The tokenizer, or null when the checkpoint has none (then only id-based calls work).</summary>
    public IJambaTokenizer? Tokenizer { get; private set; }
    /// <summary>
    /// The checkpoint's <c>generation_config.json</c>, or null: its values are the defaults of every generation call
    /// (options set explicitly win), and <see cref="Save"/> writes it back.
    /// </summary>
    public GenerationConfig? GenerationConfig { get; init; }
    /// <summary>
    /// The checkpoint's chat template (<c>chat_template.jinja</c> or the <c>chat_template</c> of
    /// <c>tokenizer_config.json</c>, with that file's special tokens), or null when the folder has none.
    /// </summary>
    public ChatTemplate? ChatTemplate { get; init; }
    /// <summary>The device of every parameter.</summary>
    public Device Device { get; }
    /// <summary>The dtype of every parameter.</summary>
    public ScalarType DType { get; }
    /// <summary>What runs generation's steps (<see cref="JambaModelOptions.Engine"/>).</summary>
    public JambaEngine Engine { get; set; }
    /// <summary>How the decoder's linear weights are stored (the config's <c>quantization_config</c>), or null for full precision.</summary>
    public QuantizationConfig? Quantization => Backbone.Quantization;

    /// <summary>
    /// What the quantized linears do with their inputs (<see cref="JambaModelOptions.ActivationQuantization"/>); setting
    /// it switches every quantized linear of the network. Unused by full-precision models.
    /// </summary>
    public ActivationQuantization ActivationQuantization
    {
        get;
        set
        {
            QuantizedLinear.SetActivations(Network, value);
            field = value;
        }
    }

    /// <summary>
    /// Throws unless the model can be trained: a quantized model holds no trainable projection weights.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model is quantized.</exception>
    public void EnsureTrainable()
    {
        if (Quantization is { } q)
            throw new InvalidOperationException($"quantized models are inference-only (this one is {q}); load without --quantize (JambaModelOptions.Quantization = None) from a reference checkpoint to train or fine-tune");
    }

    private JambaModel(JambaConfig config, nn.Module network, IJambaTokenizer? tokenizer, string? tokenizerSourceDir, Device device, ScalarType dtype)
    {
        Config = config;
        Network = network;
        Tokenizer = tokenizer;
        this.tokenizerSourceDir = tokenizerSourceDir;
        Device = device;
        DType = dtype;
    }

    /// <summary>The tokenizer, or a clear error when the model has none.</summary>
    public IJambaTokenizer RequireTokenizer() => Tokenizer ?? throw new InvalidOperationException(
        "this model has no tokenizer: its folder has no tokenizer.json or tokenizer.model and config.json names no built-in tokenizer; pass token ids, or set JambaModelOptions.Tokenizer");

    /// <summary>
    /// Builds a network for <paramref name="config"/> (head chosen by <c>architectures</c>; decoder linears quantized when
    /// the config has a <c>quantization_config</c>, see <see cref="DecoderLinear"/>).
    /// </summary>
    public static nn.Module CreateNetwork(JambaConfig config, Device device, ScalarType dtype) => config.IsSequenceClassifier
        ? new JambaForSequenceClassification(config, device, dtype)
        : new JambaForCausalLM(config, device, dtype);

    /// <summary>
    /// Creates a randomly initialised model (see <see cref="JambaInit"/>). Without a tokenizer the built-in byte
    /// tokenizer is used when the vocabulary is large enough for it.
    /// </summary>
    public static JambaModel Create(JambaConfig config, JambaModelOptions? options = null, long seed = 0, IJambaTokenizer? tokenizer = null)
    {
        TorchBackend.EnsureLoaded();
        config.Validate();
        options ??= new JambaModelOptions();
        var device = options.TorchDevice;
        var dtype = options.TorchDType;
        if (options.QuantizationFor(QuantizationConfig.Of(config), "the config") is { } quantization && QuantizationConfig.Of(config) != quantization)
        {
            config = config.Clone();
            QuantizationConfig.Set(config, quantization);
        }
        tokenizer ??= options.Tokenizer is string t ? JambaTokenizer.Load(t)
            : config.VocabSize >= ByteTokenizer.Instance.VocabSize ? ByteTokenizer.Instance : null;
        if (tokenizer is ByteTokenizer) config.ExtraFields[TokenizerConfigKey] = JambaTokenizer.ByteTokenizerName;
        if (device.type == DeviceType.CPU) HostMemory.EnsureParametersFit(config, dtype);
        nn.Module network;
        using (Uninitialized.Scope()) network = CreateNetwork(config, device, dtype);   // JambaInit draws every parameter
        JambaInit.Apply(network, config, seed);
        network.eval();
        return new JambaModel(config, network, tokenizer, options.Tokenizer is string p && p != JambaTokenizer.ByteTokenizerName ? TokenizerDir(p) : null, device, dtype)
        {
            Engine = options.Engine,
            ActivationQuantization = options.ActivationQuantization,
        };
    }

    /// <summary>
    /// Loads a checkpoint folder (<c>config.json</c>, safetensors weights, optional <c>tokenizer.json</c>
    /// or <c>tokenizer.model</c>, the first preferred as Hugging Face's fast tokenizers do). The
    /// config is checked against the weights' names and shapes (<see cref="CheckpointValidation"/>) and the
    /// parameters' size against the available memory before anything is allocated; every problem is reported in
    /// one <see cref="CheckpointException"/> (or <see cref="InsufficientMemoryException"/>). The weights are then
    /// streamed from the files into the parameters, converted on the way, so loading peaks at about the size of the
    /// loaded model.
    /// </summary>
    public static JambaModel Load(string dir, JambaModelOptions? options = null)
    {
        TorchBackend.EnsureLoaded();
        options ??= new JambaModelOptions();
        if (!Directory.Exists(dir)) throw new CheckpointException($"checkpoint folder not found: {dir}", dir);
        string configPath = Path.Combine(dir, CheckpointFolder.ConfigFile);
        if (!File.Exists(configPath)) throw new CheckpointException($"{dir} has no {CheckpointFolder.ConfigFile}", configPath);
        var config = JambaConfig.Load(configPath);
        var device = options.TorchDevice;
        var dtype = options.TorchDType;

        // Everything is checked from config.json and the safetensors headers before a parameter exists; then the
        // network is built in its final dtype and the tensors are streamed into it one at a time.
        config.Validate();
        var stored = QuantizationConfig.Of(config);
        var quantization = options.QuantizationFor(stored, dir);
        var reader = CheckpointReader.Open(dir);
        CheckpointValidation.Check(config, reader.Shapes(), dir);
        CheckpointValidation.CheckQuantizedDTypes(config, reader.DTypes(), dir);
        // A quantized checkpoint of an older format version is read into this version's layout (q4 scales become
        // float16 on the way in), so the config says the newest version that describes it.
        if (stored is not null) QuantizationConfig.Set(config, stored);
        // A reference checkpoint loaded quantized: the network is built quantized and each float weight is quantized
        // as it is read (CheckpointReader.ReadInto), so the full-precision model never exists.
        if (stored is null && quantization is not null) QuantizationConfig.Set(config, quantization);
        if (device.type == DeviceType.CPU) HostMemory.EnsureParametersFit(config, dtype);
        nn.Module network;
        using (Uninitialized.Scope()) network = CreateNetwork(config, device, dtype);   // the checkpoint fills every parameter
        try
        {
            reader.ReadInto(network, CheckpointValidation.Ignored(config));
            network.eval();
        }
        catch
        {
            network.Dispose();
            throw;
        }

        IJambaTokenizer? tokenizer = null;
        string? tokenizerDir = null;
        if (options.Tokenizer is string chosen)
        {
            tokenizer = JambaTokenizer.Load(chosen);
            tokenizerDir = chosen == JambaTokenizer.ByteTokenizerName ? null : TokenizerDir(chosen);
        }
        else if (JambaTokenizer.FindInFolder(dir) is not null)
        {
            tokenizer = JambaTokenizer.Load(dir);
            tokenizerDir = dir;
        }
        else if (config.ExtraFields[TokenizerConfigKey]?.ToString() == JambaTokenizer.ByteTokenizerName)
        {
            tokenizer = ByteTokenizer.Instance;
        }
        return new JambaModel(config, network, tokenizer, tokenizerDir, device, dtype)
        {
            GenerationConfig = GenerationConfig.LoadFromFolder(dir),
            Engine = options.Engine,
            ChatTemplate = FindChatTemplate(dir),
            ActivationQuantization = options.ActivationQuantization,
        };
    }

    /// <summary>
    /// Saves a reference-format folder atomically (written beside, then renamed into place). Floating weights are
    /// stored in <paramref name="dtype"/> when given, else in the model's dtype. A quantized model writes a quantized
    /// checkpoint: its config.json keeps the <c>quantization_config</c>, and each quantized linear stores its int8 or
    /// packed 4-bit <c>weight</c> and float32 <c>weight_scale</c> as they are (see docs/checkpoints.md).
    /// </summary>
    public void Save(string dir, ScalarType? dtype = null, long maxShardBytes = 5_000_000_000)
    {
        var config = Config.Clone();
        config.ExtraFields["torch_dtype"] = DTypeName(dtype ?? DType);
        if (Tokenizer is ByteTokenizer) config.ExtraFields[TokenizerConfigKey] = JambaTokenizer.ByteTokenizerName;
        var state = Network.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter))
            .Concat(Network.named_buffers(recurse: true, include_nonpersistent: false).Select(b => new KeyValuePair<string, Tensor>(b.name, b.buffer)));
        CheckpointFolder.Save(dir, config, state, dtype, maxShardBytes, tokenizerSourceDir);
        if (GenerationConfig is not null) File.WriteAllText(Path.Combine(dir, GenerationConfig.FileName), GenerationConfig.Json);
    }

    /// <summary>
    /// A deep copy on <paramref name="options"/>' device and dtype (default: this model's), sharing nothing with
    /// this model, so fine-tuning the copy never changes the original.
    /// </summary>
    public JambaModel Clone(JambaModelOptions? options = null, JambaConfig? config = null)
    {
        var device = options?.TorchDevice ?? Device;
        var dtype = options?.TorchDType ?? DType;
        config ??= Config.Clone();
        var network = CreateNetwork(config, device, dtype);
        using (no_grad())
        {
            var source = Network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in network.named_parameters())
                if (source.TryGetValue(name, out var s) && s.shape.SequenceEqual(p.shape)) p.copy_(s);
            var buffers = Network.named_buffers(recurse: true, include_nonpersistent: false).ToDictionary(b => b.name, b => b.buffer);
            foreach (var (name, b) in network.named_buffers(recurse: true, include_nonpersistent: false))
                if (buffers.TryGetValue(name, out var s) && s.shape.SequenceEqual(b.shape) && (s.dtype == b.dtype || (s.is_floating_point() && b.is_floating_point()))) b.copy_(s);
        }
        network.eval();
        return new JambaModel(config, network, Tokenizer, tokenizerSourceDir, device, dtype)
        {
            GenerationConfig = GenerationConfig,
            Engine = options?.Engine ?? Engine,
            ChatTemplate = ChatTemplate,
            ActivationQuantization = options?.ActivationQuantization ?? ActivationQuantization,
        };
    }

    /// <summary>Generates continuations of text prompts (left-padded into one batch) and returns the new text of each.</summary>
    public IReadOnlyList<string> Generate(IReadOnlyList<string> prompts, GenerationOptions options, bool addBos = true, CancellationToken cancellationToken = default)
    {
        var tokenizer = RequireTokenizer();
        options = options.WithDefaults(GenerationConfig);
        var ids = prompts.Select(p => EncodePrompt(p, addBos)).ToList();
        var rows = ids.Select(_ => new List<int>()).ToList();
        foreach (var step in StreamIds(ids, options, cancellationToken))
            for (int b = 0; b < rows.Count; b++) rows[b].Add(step[b]);
        return rows.Select(r => tokenizer.Decode(TrimAfterStop(r, options))).ToList();
    }

    /// <summary>Generates from one text prompt, yielding text pieces as soon as they are complete.</summary>
    public IEnumerable<string> Stream(string prompt, GenerationOptions options, bool addBos = true, CancellationToken cancellationToken = default)
    {
        var decoder = new IncrementalDecoder(RequireTokenizer());
        options = options.WithDefaults(GenerationConfig);
        var stop = StopIds(options);
        foreach (var step in StreamIds(new[] { EncodePrompt(prompt, addBos) }, options, cancellationToken))
        {
            if (stop.Contains(step[0])) break;
            string piece = decoder.Add(step[0]);
            if (piece.Length > 0) yield return piece;
        }
        string rest = decoder.Finish();
        if (rest.Length > 0) yield return rest;
    }

    /// <summary>
    /// Streams new token ids (one per row per step) for prompts given as ids. Options not set take the checkpoint's
    /// <see cref="GenerationConfig"/> values.
    /// </summary>
    public IEnumerable<int[]> StreamIds(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        var lm = CausalLM ?? throw new InvalidOperationException("generation needs a causal LM (JambaForCausalLM); this checkpoint is a sequence classifier");
        options = options.WithDefaults(GenerationConfig);
        var (ids, mask) = TokenGenerator.LeftPad(prompts, Config.PadTokenId ?? 0, Device);
        using (ids)
        using (mask)
        {
            bool padded = prompts.Any(p => p.Count != ids.size(1));
            foreach (var step in new TokenGenerator(lm, Engine).Stream(ids, padded ? mask : null, options, cancellationToken))
                yield return step.Select(t => (int)t).ToArray();
        }
    }

    /// <summary>
    /// Renders a conversation with the checkpoint's chat template and encodes it. The rendered text already holds
    /// every special token the template writes (<c>bos_token</c> included), so nothing is added, as transformers'
    /// <c>apply_chat_template(tokenize=True)</c> encodes with <c>add_special_tokens=False</c>.
    /// </summary>
    /// <param name="messages">The messages, as <see cref="Chat.ChatTemplate.Render"/> takes them.</param>
    /// <param name="tools">Tool schemas (<c>{"type": "function", "function": {...}}</c>), or null.</param>
    /// <param name="documents">Documents, or null.</param>
    /// <param name="addGenerationPrompt">End with the header of the assistant's turn.</param>
    /// <exception cref="InvalidOperationException">The checkpoint has no chat template or no tokenizer.</exception>
    public IReadOnlyList<int> EncodeChat(object messages, object? tools = null, object? documents = null, bool addGenerationPrompt = true) =>
        RequireTokenizer().Encode(RequireChatTemplate().Render(messages, tools, documents, addGenerationPrompt));

    /// <summary>The chat template, or a clear error when the checkpoint has none.</summary>
    public ChatTemplate RequireChatTemplate() => ChatTemplate ?? throw new InvalidOperationException(
        "this model has no chat template: its folder has neither chat_template.jinja nor a chat_template in tokenizer_config.json");

    /// <summary>The chat template of a checkpoint folder, or null when it has none (a malformed one is an error).</summary>
    public static ChatTemplate? FindChatTemplate(string dir)
    {
        bool hasFile = File.Exists(Path.Combine(dir, "chat_template.jinja")) || Directory.Exists(Path.Combine(dir, "additional_chat_templates"));
        string configPath = Path.Combine(dir, "tokenizer_config.json");
        if (hasFile) return ChatTemplate.FromFolder(dir);
        if (!File.Exists(configPath)) return null;
        try
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath)) is System.Text.Json.Nodes.JsonObject o && o["chat_template"] is null) return null;
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: FromFolder reports it with the file's path.
        }
        return ChatTemplate.FromFolder(dir);
    }

    private IReadOnlyList<int> EncodePrompt(string prompt, bool addBos)
    {
        var tokenizer = RequireTokenizer();
        var ids = tokenizer.Encode(prompt, addBos: addBos && tokenizer.BosId is not null);
        if (ids.Count == 0 && tokenizer.BosId is int bos) ids = new[] { bos };
        if (ids.Count == 0) throw new ArgumentException("the prompt is empty and the tokenizer has no BOS token to start from", nameof(prompt));
        return ids;
    }

    private HashSet<int> StopIds(GenerationOptions options) =>
        options.IgnoreStopTokens ? new HashSet<int>() : new HashSet<int>(options.StopTokenIds ?? Config.EosTokenIds);

    private IEnumerable<int> TrimAfterStop(List<int> row, GenerationOptions options)
    {
        var stop = StopIds(options);
        int end = row.FindIndex(stop.Contains);
        return end < 0 ? row : row.Take(end);
    }

    private static string? TokenizerDir(string path) => Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path));

    private static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };

    /// <summary>Frees the network's tensors.</summary>
    public void Dispose() => Network.Dispose();
}
