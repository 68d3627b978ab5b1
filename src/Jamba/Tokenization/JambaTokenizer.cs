namespace Jamba.Tokenization;

/// <summary>Finds and loads the tokenizer of a Jamba checkpoint.</summary>
public static class JambaTokenizer
{
    /// <summary>The name <see cref="Load"/> takes for the built-in <see cref="ByteTokenizer"/>.</summary>
    public const string ByteTokenizerName = "byte";

    /// <summary>The SentencePiece model file a Hugging Face Jamba checkpoint folder holds.</summary>
    public const string ModelFileName = "tokenizer.model";

    /// <summary>
    /// Loads a tokenizer from a <c>tokenizer.model</c> file, from a checkpoint folder that contains one, or, for the
    /// name <c>"byte"</c>, the built-in <see cref="ByteTokenizer"/> (a folder literally called <c>byte</c> can be given
    /// as <c>./byte</c>).
    /// </summary>
    /// <exception cref="FileNotFoundException">Neither the file nor a folder with <c>tokenizer.model</c> exists; the message names the path.</exception>
    /// <exception cref="InvalidDataException">The file is not a SentencePiece model; the message names the file.</exception>
    /// <exception cref="NotSupportedException">The model is a kind this library does not reproduce exactly (see <see cref="SentencePieceTokenizer"/>).</exception>
    public static IJambaTokenizer Load(string pathOrFolder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrFolder);
        if (pathOrFolder == ByteTokenizerName) return ByteTokenizer.Instance;

        if (Directory.Exists(pathOrFolder))
        {
            string file = Path.Combine(pathOrFolder, ModelFileName);
            if (!File.Exists(file))
                throw new FileNotFoundException($"The folder {pathOrFolder} has no {ModelFileName} (a SentencePiece model).", file);
            return SentencePieceTokenizer.FromFile(file);
        }
        if (File.Exists(pathOrFolder)) return SentencePieceTokenizer.FromFile(pathOrFolder);

        throw new FileNotFoundException(
            $"No tokenizer at {pathOrFolder}: expected a {ModelFileName} file, a checkpoint folder containing one, or \"{ByteTokenizerName}\".",
            pathOrFolder);
    }
}
