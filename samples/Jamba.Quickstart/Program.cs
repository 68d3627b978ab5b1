// The README's first command:
//
//   dotnet run --project samples/Jamba.Quickstart [-- --data my.tsv] [-- --model DIR] [-- --help]
//
// Builds a small Jamba from a preset, fine-tunes it as an ML.NET classifier on a generated task where word order
// matters, compares it with ML.NET's FeaturizeText + SdcaMaximumEntropy, saves/reloads/predicts, generates with the
// hybrid cache from the trained checkpoint shipped in models/jamba-tiny-stories (or --model), and writes plots and a
// summary to ./quickstart-output. The stages live in QuickstartPipeline; the
// options in QuickstartCommandLine.
using Jamba.Quickstart;

try
{
    return QuickstartCommandLine.Invoke(args, options =>
    {
        QuickstartPipeline.Run(options, Console.Out);
        return 0;
    });
}
catch (QuickstartInputException e)
{
    // Bad input is the user's to fix: one line, no stack trace.
    Console.Error.WriteLine($"quickstart: error: {e.Message}");
    return 1;
}
