/* This is a generated file, edit the .stub.php file instead.
 * Stub hash: 077c4be8d2758da7b241082f109fd6baf794db02 */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_broadcast, 0, 2, IS_VOID, 0)
	ZEND_ARG_TYPE_INFO(0, channel, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, message, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, event, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_broadcastToUser, 0, 2, IS_VOID, 0)
	ZEND_ARG_TYPE_MASK(0, userId, MAY_BE_LONG|MAY_BE_STRING, NULL)
	ZEND_ARG_TYPE_INFO(0, message, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, event, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_getChannelUsers, 0, 1, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, channel, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_disconnectUser, 0, 1, IS_VOID, 0)
	ZEND_ARG_TYPE_MASK(0, userId, MAY_BE_LONG|MAY_BE_STRING, NULL)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_getChannelHistory, 0, 1, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO(0, channel, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, limit, IS_LONG, 0, "100")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(1, position, IS_ARRAY, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_INFO_EX(arginfo_class_PyBroadcast_Server___construct, 0, 0, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, options, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_PyBroadcast_Server_onAuthenticate, 0, 1, IS_STATIC, 0)
	ZEND_ARG_TYPE_INFO(0, callback, IS_CALLABLE, 0)
ZEND_END_ARG_INFO()

#define arginfo_class_PyBroadcast_Server_onAuthorize arginfo_class_PyBroadcast_Server_onAuthenticate

#define arginfo_class_PyBroadcast_Server_onJoin arginfo_class_PyBroadcast_Server_onAuthenticate

#define arginfo_class_PyBroadcast_Server_onLeave arginfo_class_PyBroadcast_Server_onAuthenticate

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_class_PyBroadcast_Server_run, 0, 0, IS_VOID, 0)
ZEND_END_ARG_INFO()


ZEND_FUNCTION(broadcast);
ZEND_FUNCTION(broadcastToUser);
ZEND_FUNCTION(getChannelUsers);
ZEND_FUNCTION(disconnectUser);
ZEND_FUNCTION(getChannelHistory);
ZEND_METHOD(PyBroadcast_Server, __construct);
ZEND_METHOD(PyBroadcast_Server, onAuthenticate);
ZEND_METHOD(PyBroadcast_Server, onAuthorize);
ZEND_METHOD(PyBroadcast_Server, onJoin);
ZEND_METHOD(PyBroadcast_Server, onLeave);
ZEND_METHOD(PyBroadcast_Server, run);


static const zend_function_entry ext_functions[] = {
	ZEND_FE(broadcast, arginfo_broadcast)
	ZEND_FE(broadcastToUser, arginfo_broadcastToUser)
	ZEND_FE(getChannelUsers, arginfo_getChannelUsers)
	ZEND_FE(disconnectUser, arginfo_disconnectUser)
	ZEND_FE(getChannelHistory, arginfo_getChannelHistory)
	ZEND_FE_END
};


static const zend_function_entry class_PyBroadcast_Exception_methods[] = {
	ZEND_FE_END
};


static const zend_function_entry class_PyBroadcast_Server_methods[] = {
	ZEND_ME(PyBroadcast_Server, __construct, arginfo_class_PyBroadcast_Server___construct, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, onAuthenticate, arginfo_class_PyBroadcast_Server_onAuthenticate, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, onAuthorize, arginfo_class_PyBroadcast_Server_onAuthorize, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, onJoin, arginfo_class_PyBroadcast_Server_onJoin, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, onLeave, arginfo_class_PyBroadcast_Server_onLeave, ZEND_ACC_PUBLIC)
	ZEND_ME(PyBroadcast_Server, run, arginfo_class_PyBroadcast_Server_run, ZEND_ACC_PUBLIC)
	ZEND_FE_END
};

static zend_class_entry *register_class_PyBroadcast_Exception(zend_class_entry *class_entry_RuntimeException)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "PyBroadcast", "Exception", class_PyBroadcast_Exception_methods);
	class_entry = zend_register_internal_class_ex(&ce, class_entry_RuntimeException);

	zval const_NOT_SENT_value;
	ZVAL_LONG(&const_NOT_SENT_value, 1);
	zend_string *const_NOT_SENT_name = zend_string_init_interned("NOT_SENT", sizeof("NOT_SENT") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_NOT_SENT_name, &const_NOT_SENT_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_NOT_SENT_name);

	zval const_UNCONFIRMED_value;
	ZVAL_LONG(&const_UNCONFIRMED_value, 2);
	zend_string *const_UNCONFIRMED_name = zend_string_init_interned("UNCONFIRMED", sizeof("UNCONFIRMED") - 1, 1);
	zend_declare_class_constant_ex(class_entry, const_UNCONFIRMED_name, &const_UNCONFIRMED_value, ZEND_ACC_PUBLIC, NULL);
	zend_string_release(const_UNCONFIRMED_name);

	return class_entry;
}

static zend_class_entry *register_class_PyBroadcast_Server(void)
{
	zend_class_entry ce, *class_entry;

	INIT_NS_CLASS_ENTRY(ce, "PyBroadcast", "Server", class_PyBroadcast_Server_methods);
	class_entry = zend_register_internal_class_ex(&ce, NULL);
	class_entry->ce_flags |= ZEND_ACC_FINAL;

	return class_entry;
}
