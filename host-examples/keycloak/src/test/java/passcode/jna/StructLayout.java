package passcode.jna;

import com.sun.jna.Structure;
import java.util.function.ToIntFunction;

/**
 * Prints the layout JNA gives the binding's structs, {@code Struct.field=offset} and
 * {@code Struct=size} a line, for the test (ffi/tests/java.rs) that compares it with the C ABI's
 * own layout: a field out of place would be read as garbage from C's memory, not refused.
 */
public final class StructLayout {
    private StructLayout() {}

    public static void main(String[] args) {
        PasscodeLibrary.DeliveryEventStruct delivery = new PasscodeLibrary.DeliveryEventStruct();
        print("PasscodeDeliveryEvent", delivery, delivery::offset);
        PasscodeLibrary.Event event = new PasscodeLibrary.Event();
        print("PasscodeEvent", event, event::offset);
        PasscodeLibrary.Failure failure = new PasscodeLibrary.Failure();
        print("PasscodeFailure", failure, failure::offset);
    }

    private static void print(String name, Structure s, ToIntFunction<String> offset) {
        for (String field : s.getClass().getAnnotation(Structure.FieldOrder.class).value()) {
            System.out.println(name + "." + field + "=" + offset.applyAsInt(field));
        }
        System.out.println(name + "=" + s.size());
    }
}
