using System.CommandLine;
using Jamba.Inference;
using Jamba.Tokenization;
using TorchSharp;

namespace Jamba.Cli.Commands;

/// <summary>`jamba generate`: decoding with the hybrid cache from text or id prompts.</summary>
internal sealed class GenerateCommand : JambaCommand
{
    private readonly ModelArgs modelArgs;
    private readonly Option<string[]> prompt = CliOption.Repeated("--prompt", "TEXT", "a text prompt (repeat for a batch; needs a tokenizer)");
    private readonly Option<long[][]?> ids = CliOption.IdRows("--ids", "ROWS", "id prompts: rows by ';', ids by ',' (left-padded rows need --attention-mask)");
    private readonly Option<long[][]?> attentionMask = ModelArgs.MaskOption("1 real / 0 padding, same shape as --ids");
    private readonly Option<int> maxNewTokens = CliOption.Int("--max-new-tokens", "N", "tokens to generate", 32, 0, 1 << 20);
    private readonly Option<bool> greedy = CliOption.Flag("--greedy", "argmax decoding (the default when no --temperature is given)");
    private readonly Option<float> temperature = CliOption.Float("--temperature", "T", "sample with temperature T > 0; --top-k, --top-p filter; --seed makes it repeatable", 0);
    private readonly Option<int> topK = CliOption.Int("--top-k", "K", "keep the K most likely tokens (0 = all)", 0, 0);
    private readonly Option<float> topP = CliOption.Float("--top-p", "P", "keep the smallest set of tokens whose probability reaches P", 1);
    private readonly Option<long?> seed = CliOption.Long("--seed", "S", "sampling seed");
    private readonly Option<long[][]?> stop = CliOption.IdRows("--stop", "IDS", "comma-separated stop ids (default: the config's eos_token_id)");
    private readonly Option<bool> ignoreEos = CliOption.Flag("--ignore-eos", "never stop early: exactly --max-new-tokens per row");
    private readonly Option<string?> format = CliOption.Text("--format", "F", "text (default for --prompt) or ids: one line per row, prompt ids then new ids");
    private readonly Option<string?> tokenizer = CliOption.Text("--tokenizer", "T", "tokenizer to use instead of the checkpoint's (file or 'byte')");
    private readonly Option<string> addBos = CliOption.Bool("--add-bos", "B", "prefix text prompts with BOS (true or false)", true);

    public GenerateCommand() : base("generate", "generate tokens from a prompt (text or ids) with the hybrid KV + Mamba-state cache",
        "Give --prompt or --ids. Sampling: --greedy (the default) or --temperature T [--top-k K] [--top-p P] [--seed S].\n" +
        "Options not given take the checkpoint's generation_config.json values (do_sample, temperature, top_k, top_p, max_new_tokens, eos_token_id).")
    {
        modelArgs = new ModelArgs(this);
        foreach (var option in new Option[] { prompt, ids, attentionMask, maxNewTokens, greedy, temperature, topK, topP, seed, stop, ignoreEos, format, tokenizer, addBos })
            Options.Add(option);
    }

    protected override int Run(ParseResult parse)
    {
        var prompts = parse.GetValue(prompt) ?? Array.Empty<string>();
        bool hasIds = parse.Given(ids);
        if (prompts.Length > 0 == hasIds) throw new UsageException("give either --prompt or --ids");
        string format = parse.GetValue(this.format) ?? (hasIds ? "ids" : "text");
        if (format is not ("text" or "ids")) throw new UsageException($"--format must be text or ids, got '{format}'");
        if (parse.GetValue(greedy) && parse.Given(temperature)) throw new UsageException("--greedy and --temperature exclude each other");
        // Only the flags given are set, so the checkpoint's generation_config.json supplies the rest (explicit flags win).
        var options = new GenerationOptions
        {
            Seed = parse.GetValue(seed),
            IgnoreStopTokens = parse.GetValue(ignoreEos),
            StopTokenIds = parse.GivenValue(stop) is { } stopIds ? stopIds[0].Select(i => (int)i).ToArray() : null,
        };
        if (parse.Given(maxNewTokens)) options.MaxNewTokens = parse.GetValue(maxNewTokens);
        if (parse.GetValue(greedy)) options.Temperature = 0;
        else if (parse.Given(temperature)) options.Temperature = parse.GetValue(temperature);
        if (parse.Given(topK)) options.TopK = parse.GetValue(topK);
        if (parse.Given(topP)) options.TopP = parse.GetValue(topP);
        try { options.Validate(); }
        catch (ArgumentOutOfRangeException e) { throw new UsageException(e.Message); }

        using var model = modelArgs.Load(parse, parse.GetValue(tokenizer));
        if (model.CausalLM is null) throw new InvalidOperationException("this checkpoint is a sequence classifier; generation needs a JambaForCausalLM");
        options = options.WithDefaults(model.GenerationConfig);
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

        IReadOnlyList<IReadOnlyList<int>> promptIds;
        long[][]? mask = null;
        if (hasIds)
        {
            var ids = parse.GetValue(this.ids)!;
            ModelArgs.CheckIds(ids, model.Config.VocabSize, "--ids");
            mask = ModelArgs.Mask(parse.GivenValue(attentionMask), ids);
            promptIds = ids.Select(r => (IReadOnlyList<int>)r.Select(i => (int)i).ToArray()).ToList();
        }
        else
        {
            var tokenizer = model.RequireTokenizer();
            bool bos = parse.GetBool(addBos) && tokenizer.BosId is not null;
            promptIds = prompts.Select(p => (IReadOnlyList<int>)(tokenizer.Encode(p, bos) is { Count: > 0 } e ? e : new[] { tokenizer.BosId ?? model.Config.BosTokenId ?? 0 })).ToList();
        }

        if (format == "ids") return WriteIds(model, promptIds, mask, options, cancel.Token);
        return WriteText(model, promptIds, mask, options, cancel.Token);
    }

    private static int WriteIds(JambaModel model, IReadOnlyList<IReadOnlyList<int>> prompts, long[][]? mask, GenerationOptions options, CancellationToken ct)
    {
        var rows = Generate(model, prompts, mask, options, ct);
        foreach (var row in rows) Console.WriteLine(string.Join(",", row));
        return 0;
    }

    private static int WriteText(JambaModel model, IReadOnlyList<IReadOnlyList<int>> prompts, long[][]? mask, GenerationOptions options, CancellationToken ct)
    {
        var tokenizer = model.RequireTokenizer();
        var stop = options.IgnoreStopTokens ? new HashSet<long>() : new HashSet<long>((options.StopTokenIds ?? model.Config.EosTokenIds).Select(i => (long)i));
        if (prompts.Count == 1 && mask is null)
        {
            // One prompt: stream text as it is produced.
            var decoder = new IncrementalDecoder(tokenizer);
            foreach (var step in model.StreamIds(prompts, options, ct))
            {
                if (stop.Contains(step[0])) break;
                Console.Write(decoder.Add(step[0]));
            }
            Console.WriteLine(decoder.Finish());
            return 0;
        }
        var rows = Generate(model, prompts, mask, options, ct);
        int promptLength = mask?[0].Length ?? prompts.Max(p => p.Count);   // every row starts with the padded prompt
        foreach (var row in rows)
        {
            var fresh = row.Skip(promptLength).TakeWhile(t => !stop.Contains(t)).Select(t => (int)t);
            Console.WriteLine(tokenizer.Decode(fresh));
        }
        return 0;
    }

    private static long[][] Generate(JambaModel model, IReadOnlyList<IReadOnlyList<int>> prompts, long[][]? mask, GenerationOptions options, CancellationToken ct)
    {
        if (mask is null)
        {
            // Ragged prompts are left-padded here, exactly as the library's batch generation does.
            var (ids, m) = TokenGenerator.LeftPad(prompts, model.Config.PadTokenId ?? 0, model.Device);
            using (ids) using (m)
            {
                bool padded = prompts.Any(p => p.Count != ids.shape[1]);
                return new TokenGenerator(model.CausalLM!, model.Engine).Generate(ids, padded ? m : null, options, ct);
            }
        }
        var rows = prompts.Select(p => p.Select(i => (long)i).ToArray()).ToArray();
        using var idTensor = ModelArgs.ToTensor(rows, model.Device);
        using var maskTensor = ModelArgs.ToTensor(mask, model.Device);
        return new TokenGenerator(model.CausalLM!, model.Engine).Generate(idTensor, maskTensor, options, ct);
    }
}
