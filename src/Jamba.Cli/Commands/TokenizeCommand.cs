using System.CommandLine;
using System.Text.Json;
using Jamba.Tokenization;

namespace Jamba.Cli.Commands;

/// <summary>`jamba tokenize`: JSON strings on stdin, one per line → ids on stdout.</summary>
internal sealed class TokenizeCommand : JambaCommand
{
    private readonly Option<string?> tokenizer = CliOption.Text("--tokenizer", "T", "a tokenizer.json, a SentencePiece tokenizer.model, a checkpoint folder holding one, or 'byte'").AsRequired();
    private readonly Option<string> addBos = CliOption.Bool("--add-bos", "B", "put the BOS id first (true or false)", false);
    private readonly Option<string> addEos = CliOption.Bool("--add-eos", "B", "put the EOS id last (true or false)", false);

    public TokenizeCommand() : base("tokenize", "tokenize JSON strings from stdin (one per line) and print their ids",
        "Reads one JSON string per line (e.g. \"Hello world\") and prints one line per input with its ids,\n" +
        "comma-separated (an empty line when there are none): jamba tokenize --tokenizer FILE < lines.jsonl")
    {
        Options.Add(tokenizer);
        Options.Add(addBos);
        Options.Add(addEos);
    }

    protected override int Run(ParseResult parse)
    {
        var tokenizer = JambaTokenizer.Load(parse.GetValue(this.tokenizer)!);
        bool bos = parse.GetBool(addBos), eos = parse.GetBool(addEos);
        var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false, NewLine = "\n" };
        string? line;
        int lineNumber = 0;
        while ((line = Console.In.ReadLine()) is not null)
        {
            lineNumber++;
            string? text;
            try { text = JsonSerializer.Deserialize<string>(line); }
            catch (JsonException e) { throw new InvalidDataException($"stdin line {lineNumber} is not a JSON string: {e.Message}"); }
            if (text is null) throw new InvalidDataException($"stdin line {lineNumber} is null, expected a JSON string");
            stdout.WriteLine(string.Join(",", tokenizer.Encode(text, bos, eos)));
        }
        stdout.Flush();
        return 0;
    }
}
