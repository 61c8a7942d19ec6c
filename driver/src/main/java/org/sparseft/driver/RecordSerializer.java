package org.sparseft.driver;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;

/**
 * Kryo serializer for Java records. Spark's Kryo 4 field serializer fails on records ("can't get field offset on a
 * record class"), so records are written component by component and rebuilt through their canonical constructor,
 * which also re-runs their validation.
 */
final class RecordSerializer<T extends Record> extends Serializer<T> {
    private final Method[] accessors;
    private final Constructor<T> constructor;

    RecordSerializer(Class<T> type) {
        RecordComponent[] components = type.getRecordComponents();
        accessors = new Method[components.length];
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            accessors[i] = components[i].getAccessor();
            accessors[i].setAccessible(true);
            types[i] = components[i].getType();
        }
        try {
            constructor = type.getDeclaredConstructor(types);
            constructor.setAccessible(true);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("record " + type + " has no canonical constructor", e);
        }
    }

    @Override
    public void write(Kryo kryo, Output output, T record) {
        try {
            for (Method a : accessors) {
                kryo.writeClassAndObject(output, a.invoke(record));
            }
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot serialize " + record.getClass().getName(), e);
        }
    }

    @Override
    public T read(Kryo kryo, Input input, Class<T> type) {
        Object[] values = new Object[accessors.length];
        for (int i = 0; i < values.length; i++) {
            values[i] = kryo.readClassAndObject(input);
        }
        try {
            return constructor.newInstance(values);
        } catch (InstantiationException | IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot deserialize " + type.getName(), e);
        }
    }
}
