using System.Globalization;
using System.Runtime.InteropServices;
using Jamba.Checkpoints;
using Jamba.Lab.Plotting;
using Jamba.Planning;
using Jamba.Tokenization;
using Jamba.Training;

namespace Jamba.Cli.Commands;

/// <summary>`jamba train`: causal-LM training from a config or fine-tuning from a checkpoint, with resume.</summary>
public sealed class TrainCommand : ICommand
{
    public string Name => "train";
    public string Summary => "train or fine-tune a causal LM on text/JSONL/TSV data (checkpoints, resume, loss plot)";

    public IEnumerable<string> ValueOptions => new[]
    {
        "config", "preset", "model", "resume", "data", "format", "text-column", "tokenizer", "out",
        "steps", "seq-len", "batch", "grad-accum", "lr", "warmup", "min-lr-ratio", "weight-decay", "beta1", "beta2", "clip",
        "val-fraction", "eval-every", "save-every", "keep-checkpoints", "early-stopping", "seed", "init-seed", "dtype", "device",
        "threads", "log-every",
    };
    public IEnumerable<string> FlagOptions => new[] { "no-router-loss" };

    public string Help =>
        "usage: jamba train (--config FILE.json | --preset NAME | --model DIR | --resume DIR) --data PATH --out DIR [options]\n\n" +
        "Trains a causal LM and writes resumable checkpoints in the Hugging Face format (OUT/checkpoint-NNNNNN: config.json,\n" +
        "model.safetensors, training_state.json, optimizer.safetensors), OUT/loss.csv and OUT/loss.png.\n\n" +
        "Model (one of):\n" +
        "  --config FILE      train from scratch: a Jamba config.json (random init, seed --init-seed)\n" +
        "  --preset NAME      train from scratch: a built-in config (tiny, small, …; see jamba info)\n" +
        "  --model DIR        fine-tune a checkpoint folder\n" +
        "  --resume DIR       continue a run: a checkpoint folder, or an output folder (its latest checkpoint);\n" +
        "                     options given again override the saved ones (data settings must stay the same)\n" +
        "Data:\n" +
        "  --data PATH        a file or a folder of .txt/.md/.jsonl/.tsv files (default on resume: the run's data)\n" +
        "  --format F         auto (default: by extension), text (blank-line separated documents), jsonl, tsv\n" +
        "  --text-column C    JSONL field or TSV column with the text (default text)\n" +
        "  --tokenizer T      'byte' (built-in, default from a config) or a tokenizer.model; default for --model: its own\n" +
        "  --seq-len L        tokens per packed sequence; documents are joined with EOS (default 256)\n" +
        "  --val-fraction F   share of sequences held out for validation (default 0.05; 0 = none)\n" +
        "Optimisation:\n" +
        "  --steps N          optimiser updates (default 1000)\n" +
        "  --batch B          sequences per micro-batch (default 8)\n" +
        "  --grad-accum A     micro-batches per update (default 1)\n" +
        "  --lr X             peak learning rate (default 3e-4)\n" +
        "  --warmup N         linear warm-up updates (default 10% of --steps), then cosine decay\n" +
        "  --min-lr-ratio R   final learning rate / peak (default 0.1)\n" +
        "  --weight-decay W   AdamW decoupled decay; norms, biases, A_log and D get none (default 0.1)\n" +
        "  --beta1 B, --beta2 B  AdamW betas (default 0.9, 0.95)\n" +
        "  --clip C           global gradient-norm clip, 0 = off (default 1.0)\n" +
        "  --no-router-loss   leave the MoE load-balancing loss (router_aux_loss_coef × aux) out of the training loss\n" +
        "Run:\n" +
        "  --out DIR          output folder (default on resume: the checkpoint's parent folder)\n" +
        "  --eval-every N     validation loss/perplexity every N updates (default 100; 0 = start and end only)\n" +
        "  --save-every N     checkpoint every N updates (default 0 = end only; Ctrl-C also saves one)\n" +
        "  --keep-checkpoints K  keep only the K newest checkpoints (default 0 = all)\n" +
        "  --early-stopping P stop after P evaluations without a new best validation loss (default 0 = off)\n" +
        "  --seed S           data split, data order and torch generator (default 0)\n" +
        "  --init-seed S      weight initialisation seed when training from scratch (default: --seed)\n" +
        "  --dtype T          f32 (default), or bf16/f16 parameters with float32 master weights in AdamW\n" +
        "  --device D         cpu (default), cuda, cuda:1 …\n" +
        "  --threads N        CPU threads (default: all cores)\n" +
        "  --log-every N      plain-log interval when output is redirected or CI is set (default 10)";

    public int Run(CliArgs args)
    {
        int sources = new[] { "config", "preset", "model", "resume" }.Count(args.Has);
        if (sources != 1) throw new UsageException("give exactly one of --config, --preset, --model or --resume");
        ModelArgs.ApplyThreads(args);

        TrainingState? saved = null;
        string? resumeDir = null;
        if (args.Get("resume") is string r)
        {
            resumeDir = TrainingState.Locate(r);
            saved = TrainingState.Load(resumeDir);
        }
        var options = saved?.Options.Clone() ?? new TrainingOptions();
        ApplyOptions(args, options);
        try { options.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var modelOptions = new JambaModelOptions { Device = options.Device, DType = options.DType };
        if (modelOptions.Device.StartsWith("cuda", StringComparison.Ordinal) && !TorchSharp.torch.cuda.is_available())
            throw new UsageException($"--device {modelOptions.Device}: CUDA is not available in this build (build with -p:JambaTorchBackend=cuda on a machine with an NVIDIA GPU)");

        string dataPath = args.Get("data") ?? saved?.DataPath ?? throw new UsageException("missing required option --data");
        string formatName = args.Get("format") ?? saved?.DataFormat ?? "auto";
        string textColumn = args.Get("text-column") ?? saved?.TextColumn ?? "text";
        CorpusFormat format;
        try { format = TextCorpus.ParseFormat(formatName); }
        catch (ArgumentException e) { throw new UsageException("--format: " + e.Message); }
        string outDir = args.Get("out") ?? (resumeDir is not null ? Path.GetDirectoryName(Path.GetFullPath(resumeDir))! : throw new UsageException("missing required option --out"));

        // Everything about the data is checked before a model is built or a folder created, so bad input leaves nothing behind.
        var documents = TextCorpus.Read(dataPath, format, textColumn);

        using var model = LoadModel(args, resumeDir, modelOptions, options);
        var tokenizer = model.Tokenizer ?? throw new InvalidOperationException("the model has no tokenizer: pass --tokenizer byte or a tokenizer.model");
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new InvalidOperationException($"the tokenizer has {tokenizer.VocabSize} ids but the model's vocabulary only {model.Config.VocabSize}");
        PackedDataset data;
        try { data = PackedDataset.Pack(documents, tokenizer, options.SequenceLength); }
        catch (InvalidDataException e) when (e.Message.StartsWith("sequence length", StringComparison.Ordinal))
        {
            // Name the option and the data the way the user wrote them.
            throw new InvalidDataException($"--seq-len {options.SequenceLength} is larger than the data in {dataPath}: {e.Message[(e.Message.IndexOf(':') + 2)..]}");
        }

        using var trainer = new CausalLmTrainer(model, data, options, tokenizer is ByteTokenizer ? JambaTokenizer.ByteTokenizerName : "checkpoint");
        trainer.SetDataSource(dataPath, formatName, textColumn);
        if (resumeDir is not null) trainer.Resume(resumeDir);

        long parameters = model.Network.parameters().Sum(p => p.numel());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {parameters:N0} parameters, layers {model.Config.LayerMap()}, {options.DType} on {options.Device}{(trainer.UsesRouterLoss ? $", router aux loss × {model.Config.RouterAuxLossCoef}" : "")}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"data: {data.DocumentCount:N0} documents, {data.StreamTokens:N0} tokens → {trainer.TrainSequences} training + {trainer.ValidationSequences} validation sequences of {options.SequenceLength}; {options.BatchSize * options.GradientAccumulation * options.SequenceLength:N0} tokens per update"));
        if (resumeDir is not null) Console.WriteLine($"resuming from {resumeDir} at step {trainer.Step}");
        if (trainer.Step >= options.Steps)
            Console.WriteLine($"nothing to train: the run is already at step {trainer.Step} of {options.Steps} (pass a larger --steps to train further); rewriting the loss curve");

        Directory.CreateDirectory(outDir);
        trainer.OutputDirectory = outDir;
        var reporter = new ProgressReporter(Console.Out, options.Steps, trainer.Step) { LogEvery = args.Int("log-every", 10, 1) };
        reporter.Attach(trainer);
        trainer.CurvesWritten += history => LossPlot.WritePng(history, Path.Combine(outDir, LossPlot.PngFile), "Jamba training");

        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cts.IsCancellationRequested) return;   // a second Ctrl-C ends the process at once
            e.Cancel = true;
            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        // SIGTERM (job schedulers, `kill`, containers stopping) gets the same treatment: finish the step, save, leave.
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            if (cts.IsCancellationRequested) return;
            ctx.Cancel = true;
            cts.Cancel();
        });
        TrainingResult result;
        try { result = trainer.Run(cts.Token); }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            reporter.Finish();
        }

        var last = trainer.History.LastOrDefault(h => h.ValidationLoss is not null);
        string how = result.Interrupted ? "interrupted" : result.EarlyStopped ? "stopped early (no validation improvement)" : "done";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{how} at step {result.Step}{(last is null ? "" : $": val loss {last.ValidationLoss:F4}, perplexity {last.ValidationPerplexity:F2}")} ({trainer.ElapsedSeconds:F1} s)"));
        if (result.FinalCheckpoint is not null) Console.WriteLine($"checkpoint: {result.FinalCheckpoint}");
        Console.WriteLine($"loss curve: {Path.Combine(outDir, LossCurve.CsvFile)}, {Path.Combine(outDir, LossPlot.PngFile)}");
        return result.Interrupted ? 130 : 0;
    }

    private static JambaModel LoadModel(CliArgs args, string? resumeDir, JambaModelOptions modelOptions, TrainingOptions options)
    {
        string? tokenizer = args.Get("tokenizer");
        if (resumeDir is not null || args.Get("model") is not null)
        {
            modelOptions.Tokenizer = tokenizer;
            return JambaModel.Load(resumeDir ?? args.Get("model")!, modelOptions);
        }
        JambaConfig config;
        if (args.Get("preset") is string preset)
        {
            try { config = Presets.FromName(preset); }
            catch (ArgumentException e) { throw new UsageException("--preset: " + e.Message); }
        }
        else config = JambaConfig.Load(args.Get("config")!);
        if (config.IsSequenceClassifier) throw new UsageException("jamba train trains causal LMs; the config's architectures says JambaForSequenceClassification");
        modelOptions.Tokenizer = tokenizer ?? JambaTokenizer.ByteTokenizerName;
        var tok = JambaTokenizer.Load(modelOptions.Tokenizer);
        if (tok.VocabSize > config.VocabSize)
            throw new InvalidOperationException($"the {modelOptions.Tokenizer} tokenizer has {tok.VocabSize} ids but the config's vocab_size is {config.VocabSize}");
        return JambaModel.Create(config, modelOptions, args.Long("init-seed") ?? options.Seed);
    }

    private static void ApplyOptions(CliArgs a, TrainingOptions o)
    {
        o.Steps = a.Int("steps", o.Steps, 1);
        o.SequenceLength = a.Int("seq-len", o.SequenceLength, 2);
        o.BatchSize = a.Int("batch", o.BatchSize, 1);
        o.GradientAccumulation = a.Int("grad-accum", o.GradientAccumulation, 1);
        o.LearningRate = Double(a, "lr", o.LearningRate);
        if (a.Has("warmup")) o.WarmupSteps = a.Int("warmup", 0, 0);
        o.MinLearningRateRatio = Double(a, "min-lr-ratio", o.MinLearningRateRatio);
        o.WeightDecay = Double(a, "weight-decay", o.WeightDecay);
        o.Beta1 = Double(a, "beta1", o.Beta1);
        o.Beta2 = Double(a, "beta2", o.Beta2);
        o.ClipNorm = Double(a, "clip", o.ClipNorm);
        o.ValidationFraction = Double(a, "val-fraction", o.ValidationFraction);
        o.EvalEvery = a.Int("eval-every", o.EvalEvery, 0);
        o.SaveEvery = a.Int("save-every", o.SaveEvery, 0);
        o.KeepCheckpoints = a.Int("keep-checkpoints", o.KeepCheckpoints, 0);
        o.EarlyStoppingPatience = a.Int("early-stopping", o.EarlyStoppingPatience, 0);
        if (a.Long("seed") is long seed) o.Seed = seed;
        o.DType = a.Get("dtype") ?? o.DType;
        o.Device = a.Get("device") ?? o.Device;
        if (a.Flag("no-router-loss")) o.RouterAuxLoss = false;
    }

    private static double Double(CliArgs a, string name, double fallback)
    {
        string? s = a.Get(name);
        if (s is null) return fallback;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v : throw new UsageException($"--{name} must be a number, got '{s}'");
    }
}
