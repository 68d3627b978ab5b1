using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Jamba.Chat;
using Jamba.Chat.Templates;
using Jamba.Checkpoints;
using Jamba.Lab.Plotting;
using Jamba.Planning;
using Jamba.Tokenization;
using Jamba.Training;

namespace Jamba.Cli.Commands;

/// <summary>`jamba train`: causal-LM training from a config or fine-tuning from a checkpoint, with resume.</summary>
internal sealed class TrainCommand : JambaCommand
{
    private static readonly TrainingOptions Defaults = new();

    // Model (exactly one).
    private readonly Option<string?> config = CliOption.Text("--config", "FILE", "train from scratch: a Jamba config.json (random init, seed --init-seed)");
    private readonly Option<string?> preset = CliOption.Text("--preset", "NAME", "train from scratch: a built-in config (tiny, small, …; see jamba info)");
    private readonly Option<string?> model = CliOption.Text("--model", "DIR", "fine-tune a checkpoint folder");
    private readonly Option<string?> resume = CliOption.Text("--resume", "DIR",
        "continue a run: a checkpoint folder, or an output folder (its latest checkpoint); options given again override the saved ones (data settings must stay the same)");
    // Data.
    private readonly Option<string?> dataSource = CliOption.Text("--data", "PATH", "a file or a folder of .txt/.md/.jsonl/.tsv files (default on resume: the run's data)");
    private readonly Option<string?> format = CliOption.Text("--format", "F", "auto (default: by extension), text (blank-line separated documents), jsonl, tsv, or chat (JSONL conversations rendered with the chat template of --model, or of the --tokenizer's folder)");
    private readonly Option<string?> textColumn = CliOption.Text("--text-column", "C", "JSONL field or TSV column with the text (default text; for --format chat the field with the messages, default messages)");
    private readonly Option<string?> tokenizer = CliOption.Text("--tokenizer", "T", "'byte' (built-in, default from a config) or a tokenizer.model; default for --model: its own");
    private readonly Option<int> seqLen = CliOption.Int("--seq-len", "L", "tokens per packed sequence; documents are joined with EOS", Defaults.SequenceLength, 2);
    private readonly Option<double> valFraction = CliOption.Double("--val-fraction", "F", "share of sequences held out for validation (0 = none)", Defaults.ValidationFraction);
    // Optimisation.
    private readonly Option<int> steps = CliOption.Int("--steps", "N", "optimiser updates", Defaults.Steps, 1);
    private readonly Option<int> batch = CliOption.Int("--batch", "B", "sequences per micro-batch", Defaults.BatchSize, 1);
    private readonly Option<int> gradAccum = CliOption.Int("--grad-accum", "A", "micro-batches per update", Defaults.GradientAccumulation, 1);
    private readonly Option<double> lr = CliOption.Double("--lr", "X", "peak learning rate", Defaults.LearningRate);
    private readonly Option<int?> warmup = CliOption.OptionalInt("--warmup", "N", "linear warm-up updates (default 10% of --steps), then cosine decay", 0);
    private readonly Option<double> minLrRatio = CliOption.Double("--min-lr-ratio", "R", "final learning rate / peak", Defaults.MinLearningRateRatio);
    private readonly Option<double> weightDecay = CliOption.Double("--weight-decay", "W", "AdamW decoupled decay; norms, biases, A_log and D get none", Defaults.WeightDecay);
    private readonly Option<double> beta1 = CliOption.Double("--beta1", "B", "AdamW beta1", Defaults.Beta1);
    private readonly Option<double> beta2 = CliOption.Double("--beta2", "B", "AdamW beta2", Defaults.Beta2);
    private readonly Option<double> clip = CliOption.Double("--clip", "C", "global gradient-norm clip, 0 = off", Defaults.ClipNorm);
    private readonly Option<bool> noRouterLoss = CliOption.Flag("--no-router-loss", "leave the MoE load-balancing loss (router_aux_loss_coef × aux) out of the training loss");
    // Run.
    private readonly Option<string?> output = CliOption.Text("--out", "DIR", "output folder (default on resume: the checkpoint's parent folder)");
    private readonly Option<int> evalEvery = CliOption.Int("--eval-every", "N", "validation loss/perplexity every N updates (0 = start and end only)", Defaults.EvalEvery, 0);
    private readonly Option<int> saveEvery = CliOption.Int("--save-every", "N", "checkpoint every N updates (0 = end only; Ctrl-C also saves one)", Defaults.SaveEvery, 0);
    private readonly Option<int> keepCheckpoints = CliOption.Int("--keep-checkpoints", "K", "keep only the K newest checkpoints (0 = all)", Defaults.KeepCheckpoints, 0);
    private readonly Option<int> earlyStopping = CliOption.Int("--early-stopping", "P", "stop after P evaluations without a new best validation loss (0 = off)", Defaults.EarlyStoppingPatience, 0);
    private readonly Option<long> seed = CliOption.Long("--seed", "S", "data split, data order and torch generator", Defaults.Seed);
    private readonly Option<long?> initSeed = CliOption.Long("--init-seed", "S", "weight initialisation seed when training from scratch (default: --seed)");
    private readonly Option<string> dtype = CliOption.Text("--dtype", "T", "f32, or bf16/f16 parameters with float32 master weights in AdamW", Defaults.DType);
    private readonly Option<string> device = CliOption.Text("--device", "D", "cpu, cuda, cuda:1 …", Defaults.Device);
    private readonly Option<int?> threads = ModelArgs.ThreadsOption();
    private readonly Option<int> logEvery = CliOption.Int("--log-every", "N", "plain-log interval when output is redirected or CI is set", 10, 1);

    public TrainCommand() : base("train", "train or fine-tune a causal LM on text/JSONL/TSV data (checkpoints, resume, loss plot)",
        "Give exactly one of --config, --preset, --model or --resume, and --data and --out (both taken from the run on resume).\n" +
        "Writes resumable checkpoints in the Hugging Face format (OUT/checkpoint-NNNNNN: config.json, model.safetensors,\n" +
        "training_state.json, optimizer.safetensors), OUT/loss.csv and OUT/loss.png.")
    {
        foreach (var option in new Option[]
        {
            config, preset, model, resume, dataSource, format, textColumn, tokenizer, seqLen, valFraction,
            steps, batch, gradAccum, lr, warmup, minLrRatio, weightDecay, beta1, beta2, clip, noRouterLoss,
            output, evalEvery, saveEvery, keepCheckpoints, earlyStopping, seed, initSeed, dtype, device, threads, logEvery,
        })
            Options.Add(option);
        CliOption.ExactlyOneOf(this, config, preset, model, resume);
    }

    protected override int Run(ParseResult parse)
    {
        ModelArgs.ApplyThreads(parse, threads);

        TrainingState? saved = null;
        string? resumeDir = null;
        if (parse.GetValue(resume) is string r)
        {
            resumeDir = TrainingState.Locate(r);
            saved = TrainingState.Load(resumeDir);
        }
        var options = saved?.Options.Clone() ?? new TrainingOptions();
        ApplyOptions(parse, options);
        try { options.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var modelOptions = new JambaModelOptions { Device = options.Device, DType = options.DType };
        if (modelOptions.Device.StartsWith("cuda", StringComparison.Ordinal) && !TorchSharp.torch.cuda.is_available())
            throw new UsageException($"--device {modelOptions.Device}: CUDA is not available in this build (build with -p:JambaTorchBackend=cuda on a machine with an NVIDIA GPU)");

        string dataPath = parse.GetValue(dataSource) ?? saved?.DataPath ?? throw new UsageException("missing required option --data");
        string formatName = parse.GetValue(this.format) ?? saved?.DataFormat ?? "auto";
        CorpusFormat format;
        try { format = TextCorpus.ParseFormat(formatName); }
        catch (ArgumentException e) { throw new UsageException("--format: " + e.Message); }
        string textColumn = parse.GetValue(this.textColumn) ?? saved?.TextColumn ?? (format == CorpusFormat.Chat ? "messages" : "text");
        string outDir = parse.GetValue(output) ?? (resumeDir is not null ? Path.GetDirectoryName(Path.GetFullPath(resumeDir))! : throw new UsageException("missing required option --out"));

        // Everything about the data is checked before a model is built or a folder created, so bad input leaves nothing behind.
        var chatTemplate = format == CorpusFormat.Chat ? TrainingChatTemplate(parse, resumeDir) : null;
        var documents = TextCorpus.Read(dataPath, format, textColumn, chatTemplate);

        using var model = LoadModel(parse, resumeDir, modelOptions, options);
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
        var reporter = new ProgressReporter(Console.Out, options.Steps, trainer.Step) { LogEvery = parse.GetValue(logEvery) };
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

    private JambaModel LoadModel(ParseResult parse, string? resumeDir, JambaModelOptions modelOptions, TrainingOptions options)
    {
        string? tokenizer = parse.GetValue(this.tokenizer);
        if (resumeDir is not null || parse.GetValue(model) is not null)
        {
            modelOptions.Tokenizer = tokenizer;
            return JambaModel.Load(resumeDir ?? parse.GetValue(model)!, modelOptions);
        }
        JambaConfig config;
        if (parse.GetValue(preset) is string presetName)
        {
            try { config = Presets.FromName(presetName); }
            catch (ArgumentException e) { throw new UsageException("--preset: " + e.Message); }
        }
        else config = JambaConfig.Load(parse.GetValue(this.config)!);
        if (config.IsSequenceClassifier) throw new UsageException("jamba train trains causal LMs; the config's architectures says JambaForSequenceClassification");
        modelOptions.Tokenizer = tokenizer ?? JambaTokenizer.ByteTokenizerName;
        var tok = JambaTokenizer.Load(modelOptions.Tokenizer);
        if (tok.VocabSize > config.VocabSize)
            throw new InvalidOperationException($"the {modelOptions.Tokenizer} tokenizer has {tok.VocabSize} ids but the config's vocab_size is {config.VocabSize}");
        return JambaModel.Create(config, modelOptions, parse.GetValue(initSeed) ?? options.Seed);
    }

    /// <summary>
    /// The template that renders chat data: the checkpoint's (resume or --model), else the one in the folder of
    /// --tokenizer, so a model trained from a config learns the format its release folder will carry.
    /// </summary>
    private ChatTemplate TrainingChatTemplate(ParseResult parse, string? resumeDir)
    {
        string? folder = resumeDir ?? parse.GetValue(model);
        if (folder is null && parse.GetValue(tokenizer) is string t && t != JambaTokenizer.ByteTokenizerName)
            folder = Directory.Exists(t) ? t : Path.GetDirectoryName(Path.GetFullPath(t));
        if (folder is null)
            throw new UsageException("--format chat needs a chat template: give --model DIR, or --tokenizer FILE whose folder holds a tokenizer_config.json with a chat_template");
        try { return ChatTemplate.FromFolder(folder); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or TemplateException)
        {
            throw new UsageException($"--format chat: no usable chat template in {folder}: {e.Message}");
        }
    }

    /// <summary>Every option written on the command line overrides the default or the resumed run's value.</summary>
    private void ApplyOptions(ParseResult parse, TrainingOptions o)
    {
        void Set<T>(Option<T> option, Action<T> set)
        {
            if (parse.Given(option)) set(parse.GetValue(option)!);
        }
        Set(steps, v => o.Steps = v);
        Set(seqLen, v => o.SequenceLength = v);
        Set(batch, v => o.BatchSize = v);
        Set(gradAccum, v => o.GradientAccumulation = v);
        Set(lr, v => o.LearningRate = v);
        Set(warmup, v => o.WarmupSteps = v);
        Set(minLrRatio, v => o.MinLearningRateRatio = v);
        Set(weightDecay, v => o.WeightDecay = v);
        Set(beta1, v => o.Beta1 = v);
        Set(beta2, v => o.Beta2 = v);
        Set(clip, v => o.ClipNorm = v);
        Set(valFraction, v => o.ValidationFraction = v);
        Set(evalEvery, v => o.EvalEvery = v);
        Set(saveEvery, v => o.SaveEvery = v);
        Set(keepCheckpoints, v => o.KeepCheckpoints = v);
        Set(earlyStopping, v => o.EarlyStoppingPatience = v);
        Set(seed, v => o.Seed = v);
        Set(dtype, v => o.DType = v);
        Set(device, v => o.Device = v);
        if (parse.GetValue(noRouterLoss)) o.RouterAuxLoss = false;
    }
}
