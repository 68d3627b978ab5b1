using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Internal;

/// <summary>
/// The lazy result of a Jamba transformer's Transform: nothing runs until a cursor moves, and a cursor reads its
/// source in batches of <see cref="JambaMapper.BatchSize"/> rows, running the model once per batch. Only the current
/// batch is held (the active columns of its rows and its outputs), so memory stays flat however long the input is.
/// </summary>
internal sealed class JambaDataView : IDataView
{
    private readonly IDataView source;
    private readonly JambaMapper mapper;

    public JambaDataView(IDataView source, JambaMapper mapper)
    {
        this.source = source;
        this.mapper = mapper;
    }

    public bool CanShuffle => source.CanShuffle;
    public DataViewSchema Schema => mapper.OutputSchema;
    public long? GetRowCount() => source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Select(c => c.Index).ToHashSet();
        int inputCount = mapper.InputSchema.Count;
        bool anyOutput = needed.Any(i => i >= inputCount);
        var sourceColumns = needed.Where(i => i < inputCount).ToHashSet();
        if (anyOutput) foreach (var input in mapper.Inputs) sourceColumns.Add(input.Column.Index);
        var cursor = source.GetRowCursor(sourceColumns.Select(i => source.Schema[i]), rand);
        return new BatchingCursor(cursor, mapper, needed, anyOutput);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class BatchingCursor : DataViewRowCursor
    {
        private readonly DataViewRowCursor source;
        private readonly JambaMapper mapper;
        private readonly HashSet<int> active;
        private readonly bool mapOutputs;
        private readonly int[] passColumns;
        private readonly Func<object?>[] passReaders;
        private readonly Func<object?>[] inputReaders;
        private readonly ValueGetter<DataViewRowId> sourceId;

        private readonly List<object?[]> passValues = new();
        private readonly List<object?[]> inputValues = new();
        private readonly List<DataViewRowId> ids = new();
        private object?[][]? outputs;
        private int index = -1;
        private long position = -1;
        private bool sourceDone;

        public BatchingCursor(DataViewRowCursor source, JambaMapper mapper, HashSet<int> active, bool mapOutputs)
        {
            this.source = source;
            this.mapper = mapper;
            this.active = active;
            this.mapOutputs = mapOutputs;
            passColumns = active.Where(i => i < mapper.InputSchema.Count).OrderBy(i => i).ToArray();
            passReaders = passColumns.Select(i => ColumnReaders.Copier(source, source.Schema[i])).ToArray();
            inputReaders = mapOutputs ? mapper.Inputs.Select(c => c.Reader(source, c.Column)).ToArray() : Array.Empty<Func<object?>>();
            sourceId = source.GetIdGetter();
        }

        public override DataViewSchema Schema => mapper.OutputSchema;
        public override long Position => position;
        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) =>
        {
            if (index < 0) throw new InvalidOperationException("the cursor is not on a row; call MoveNext first");
            id = ids[index];
        };

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!active.Contains(column.Index))
                throw new InvalidOperationException($"column '{column.Name}' was not requested when this cursor was created");
            int inputCount = mapper.InputSchema.Count;
            Func<object?> current;
            if (column.Index < inputCount)
            {
                int slot = Array.IndexOf(passColumns, column.Index);
                current = () => passValues[index][slot];
            }
            else
            {
                int output = column.Index - inputCount;
                current = () => outputs![output][index];
            }
            return ColumnReaders.Getter(column.Type, Guarded(current)) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"column '{column.Name}' is {MLNetInterop.Describe(column.Type)}; a getter of {typeof(TValue).Name} was asked for");
        }

        private Func<object?> Guarded(Func<object?> current) => () =>
        {
            if (index < 0) throw new InvalidOperationException("the cursor is not on a row; call MoveNext first");
            return current();
        };

        public override bool MoveNext()
        {
            if (index + 1 < ids.Count)
            {
                index++;
                position++;
                return true;
            }
            if (sourceDone || !Fill())
            {
                index = -1;
                return false;
            }
            index = 0;
            position++;
            return true;
        }

        private bool Fill()
        {
            passValues.Clear();
            inputValues.Clear();
            ids.Clear();
            outputs = null;
            // Without active outputs there is no model work, so rows go through one at a time.
            int size = mapOutputs ? Math.Max(1, mapper.BatchSize) : 1;
            while (ids.Count < size)
            {
                if (!source.MoveNext())
                {
                    sourceDone = true;
                    break;
                }
                DataViewRowId id = default;
                sourceId(ref id);
                ids.Add(id);
                passValues.Add(passReaders.Select(r => r()).ToArray());
                if (mapOutputs) inputValues.Add(inputReaders.Select(r => r()).ToArray());
            }
            if (ids.Count == 0) return false;
            if (mapOutputs) outputs = mapper.MapBatchScoped(inputValues);
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) source.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// Row-at-a-time mapping for PredictionEngine and TransformerChain's composed mapper. Each returned row computes its
/// outputs on first access and reuses them until the input values change, so Score and PredictedLabel of one
/// prediction cost a single model call.
/// </summary>
internal sealed class JambaRowToRowMapper : IRowToRowMapper
{
    private readonly JambaMapper mapper;

    public JambaRowToRowMapper(JambaMapper mapper) => this.mapper = mapper;

    public DataViewSchema InputSchema => mapper.InputSchema;
    public DataViewSchema OutputSchema => mapper.OutputSchema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        int inputCount = mapper.InputSchema.Count;
        var result = new HashSet<int>();
        bool anyOutput = false;
        foreach (var c in dependingColumns)
        {
            if (c.Index < inputCount) result.Add(c.Index);
            else anyOutput = true;
        }
        if (anyOutput) foreach (var input in mapper.Inputs) result.Add(input.Column.Index);
        return result.OrderBy(i => i).Select(i => mapper.InputSchema[i]).ToArray();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
        => new MappedRow(input, mapper, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class MappedRow : DataViewRow
    {
        private readonly DataViewRow input;
        private readonly JambaMapper mapper;
        private readonly HashSet<int> active;
        private readonly Func<object?>[] readers;
        private object?[]? cachedInputs;
        private object?[][]? cachedOutputs;

        public MappedRow(DataViewRow input, JambaMapper mapper, HashSet<int> active)
        {
            this.input = input;
            this.mapper = mapper;
            this.active = active;
            bool anyOutput = active.Any(i => i >= mapper.InputSchema.Count);
            readers = anyOutput ? mapper.Inputs.Select(c => c.Reader(input, c.Column)).ToArray() : Array.Empty<Func<object?>>();
        }

        public override DataViewSchema Schema => mapper.OutputSchema;
        public override long Position => input.Position;
        public override long Batch => input.Batch;
        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();
        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = mapper.InputSchema.Count;
            if (column.Index < inputCount) return input.GetGetter<TValue>(input.Schema[column.Index]);
            int output = column.Index - inputCount;
            return ColumnReaders.Getter(column.Type, () => Current()[output][0]) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"column '{column.Name}' is {MLNetInterop.Describe(column.Type)}; a getter of {typeof(TValue).Name} was asked for");
        }

        private object?[][] Current()
        {
            var values = readers.Select(r => r()).ToArray();
            if (cachedOutputs is null || !SameInputs(values, cachedInputs!))
            {
                cachedOutputs = mapper.MapBatchScoped(new[] { values });
                cachedInputs = values;
            }
            return cachedOutputs;
        }

        private static bool SameInputs(object?[] a, object?[] b)
        {
            for (int i = 0; i < a.Length; i++)
            {
                if (a[i] is string[] x && b[i] is string[] y) { if (!x.SequenceEqual(y)) return false; }
                else if (!Equals(a[i], b[i])) return false;
            }
            return true;
        }
    }
}
