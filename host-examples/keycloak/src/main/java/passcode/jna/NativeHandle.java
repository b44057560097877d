package passcode.jna;

import com.sun.jna.Pointer;
import java.lang.ref.Cleaner;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * The life of one handle the library owns (an engine, a delivery): calls run under a read lock,
 * so any number run at once; close() takes the write lock, so it waits for running calls and
 * later calls fail with IllegalStateException. A handle that is never closed is freed by a
 * Cleaner once unreachable. The objects C may call back into (JNA callbacks and the structs that
 * hold them) are kept reachable until the native object is freed: JNA does not keep them alive,
 * and a collected callback would be a crash.
 */
abstract class NativeHandle implements AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    /** What the Cleaner runs: frees the native object; holds the callbacks until then. */
    private static final class Release implements Runnable {
        private final Pointer pointer;
        private final Consumer<Pointer> free;
        @SuppressWarnings("unused") // Kept only to keep the callbacks reachable.
        private final List<Object> keepAlive;

        Release(Pointer pointer, Consumer<Pointer> free, List<Object> keepAlive) {
            this.pointer = pointer;
            this.free = free;
            this.keepAlive = keepAlive;
        }

        @Override
        public void run() {
            free.accept(pointer);
        }
    }

    /** A call on the native object. */
    @FunctionalInterface
    interface Call<T> {
        T run(Pointer handle) throws PasscodeException;
    }

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Cleaner.Cleanable cleanable;
    private Pointer pointer; // null once closed; guarded by lock

    NativeHandle(Pointer pointer, Consumer<Pointer> free, List<Object> keepAlive) {
        this.pointer = pointer;
        this.cleanable = CLEANER.register(this, new Release(pointer, free, keepAlive));
    }

    /** Runs a call with the live pointer; IllegalStateException after close(). */
    final <T> T call(Call<T> call) throws PasscodeException {
        ReentrantReadWriteLock.ReadLock read = lock.readLock();
        read.lock();
        try {
            if (pointer == null) {
                throw new IllegalStateException(getClass().getSimpleName() + " is closed");
            }
            return call.run(pointer);
        } finally {
            read.unlock();
        }
    }

    /** Frees the native object after the calls in progress; closing twice is harmless. */
    @Override
    public final void close() {
        ReentrantReadWriteLock.WriteLock write = lock.writeLock();
        write.lock();
        try {
            if (pointer != null) {
                pointer = null;
                cleanable.clean();
            }
        } finally {
            write.unlock();
        }
    }
}
