using Jamba.Inference;
using Jamba.Tokenization;
using TorchSharp;

namespace Jamba.Cli.Commands;

/// <summary>`jamba generate`: decoding with the hybrid cache from text or id prompts.</summary>
public sealed class GenerateCommand : ICommand
{
    public string Name => "generate";
    public string Summary => "generate tokens from a prompt (text or ids) with the hybrid KV + Mamba-state cache";
    public IEnumerable<string> ValueOptions => ModelArgs.Options.Concat(new[]
        { "prompt", "ids", "attention-mask", "max-new-tokens", "temperature", "top-k", "top-p", "seed", "format", "tokenizer", "add-bos", "stop" });
    public IEnumerable<string> FlagOptions => new[] { "greedy", "ignore-eos" };
    public string Help =>
        "usage: jamba generate --model DIR (--prompt TEXT | --ids \"...\") [--attention-mask ...] --max-new-tokens N\n" +
        "                      [--greedy | --temperature T --top-k K --top-p P --seed S] [--format text|ids]\n\n" +
        ModelArgs.Help + "\n" +
        "  --prompt TEXT      a text prompt (repeat for a batch; needs a tokenizer)\n" +
        "  --ids ROWS         id prompts: rows by ';', ids by ',' (left-padded rows need --attention-mask)\n" +
        "  --attention-mask   1 real / 0 padding, same shape as --ids\n" +
        "  --max-new-tokens N tokens to generate (default 32)\n" +
        "  --greedy           argmax decoding (the default when no --temperature is given)\n" +
        "  --temperature T    sample with temperature T > 0; --top-k K, --top-p P filter; --seed S makes it repeatable\n" +
        "  --stop IDS         comma-separated stop ids (default: the config's eos_token_id)\n" +
        "  --ignore-eos       never stop early: exactly --max-new-tokens per row\n" +
        "  --format F         text (default for --prompt) or ids: one line per row, prompt ids then new ids\n" +
        "  --tokenizer T      tokenizer to use instead of the checkpoint's (file or 'byte')\n" +
        "  --add-bos B        prefix text prompts with BOS (default true)";

    public int Run(CliArgs args)
    {
        var prompts = args.All("prompt");
        bool hasIds = args.Has("ids");
        if (prompts.Count > 0 == hasIds) throw new UsageException("give either --prompt or --ids");
        string format = args.Get("format") ?? (hasIds ? "ids" : "text");
        if (format is not ("text" or "ids")) throw new UsageException($"--format must be text or ids, got '{format}'");
        if (args.Flag("greedy") && args.Has("temperature")) throw new UsageException("--greedy and --temperature exclude each other");
        var options = new GenerationOptions
        {
            MaxNewTokens = args.Int("max-new-tokens", 32, 0, 1 << 20),
            Temperature = args.Flag("greedy") ? 0 : args.Float("temperature", 0),
            TopK = args.Int("top-k", 0, 0),
            TopP = args.Float("top-p", 1),
            Seed = args.Long("seed"),
            IgnoreStopTokens = args.Flag("ignore-eos"),
            StopTokenIds = args.Get("stop") is string stop ? CliArgs.Matrix("stop", stop)[0].Select(i => (int)i).ToArray() : null,
        };
        try { options.Validate(); }
        catch (ArgumentOutOfRangeException e) { throw new UsageException(e.Message); }

        using var model = ModelArgs.Load(args, args.Get("tokenizer"));
        if (model.CausalLM is null) throw new InvalidOperationException("this checkpoint is a sequence classifier; generation needs a JambaForCausalLM");
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

        IReadOnlyList<IReadOnlyList<int>> promptIds;
        long[][]? mask = null;
        if (hasIds)
        {
            var ids = CliArgs.Matrix("ids", args.Required("ids"));
            ModelArgs.CheckIds(ids, model.Config.VocabSize, "ids");
            mask = ModelArgs.Mask(args, ids);
            promptIds = ids.Select(r => (IReadOnlyList<int>)r.Select(i => (int)i).ToArray()).ToList();
        }
        else
        {
            var tokenizer = model.RequireTokenizer();
            bool bos = args.Bool("add-bos", true) && tokenizer.BosId is not null;
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
                return new TokenGenerator(model.CausalLM!).Generate(ids, padded ? m : null, options, ct);
            }
        }
        var rows = prompts.Select(p => p.Select(i => (long)i).ToArray()).ToArray();
        using var idTensor = ModelArgs.ToTensor(rows, model.Device);
        using var maskTensor = ModelArgs.ToTensor(mask, model.Device);
        return new TokenGenerator(model.CausalLM!).Generate(idTensor, maskTensor, options, ct);
    }
}
